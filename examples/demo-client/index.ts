export { startDemoClient, type DemoClientOptions, type RunningApp } from './demo-client.ts';
export { startOrdersApi, type OrdersApiOptions, type RunningApi } from './orders-api.ts';
