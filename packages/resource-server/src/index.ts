// Filled in by issue 5.
export {};
