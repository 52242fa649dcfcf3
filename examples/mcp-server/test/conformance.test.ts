import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createServer as createNetServer } from 'node:net';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { FormBrowser, type Latchkey, startLatchkey, walkAuthorization } from '@latchkey/testing';

/**
 * The MCP conformance tool (@modelcontextprotocol/conformance, `authorization` mode) run against
 * Latchkey: its authorization server scenarios (metadata, and the code grant with PKCE and
 * `resource`, without `scope`) must pass. The tool needs Node.js 22 or later: this process's node if it
 * is, else the one LATCHKEY_CONFORMANCE_NODE names (CI installs Node 24 and sets it).
 */
const TOOL = createRequire(import.meta.url).resolve('@modelcontextprotocol/conformance/dist/index.js');

function conformanceNode(): string | undefined {
  const candidates = [process.execPath, process.env.LATCHKEY_CONFORMANCE_NODE].filter((c): c is string => !!c);
  for (const node of candidates) {
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout?.trim() ?? '';
    if (Number(/^v(\d+)/.exec(version)?.[1] ?? 0) >= 22) return node;
  }
  return undefined;
}

const NODE = conformanceNode();
const inCi = process.env.CI === 'true' || process.env.CI === '1';
const skip = NODE === undefined && !inCi ? 'the conformance tool needs Node.js >= 22: set LATCHKEY_CONFORMANCE_NODE' : false;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

interface Run {
  code: number | null;
  output: string;
}

/** Runs one scenario; `onOutput` sees the output as it arrives (the code grant prints a URL to open). */
function runScenario(args: string[], onOutput?: (text: string) => void): Promise<Run> {
  assert.ok(NODE, 'CI requires a Node.js >= 22 for the MCP conformance tool (LATCHKEY_CONFORMANCE_NODE)');
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [TOOL, 'authorization', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      onOutput?.(output);
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('MCP conformance tool: authorization server scenarios', { skip }, () => {
  let latchkey: Latchkey;
  let mcpUrl: string;
  let clientId: string;

  before(async () => {
    latchkey = await startLatchkey();
    mcpUrl = `http://127.0.0.1:${await freePort()}/mcp`;
    await latchkey.running.registry.createResource({
      identifier: mcpUrl,
      scopes: ['conformance:read'],
      defaultScopes: ['conformance:read'],
    });
    const created = await latchkey.running.registry.createClient({
      name: 'MCP conformance',
      type: 'public',
      grantTypes: ['authorization_code', 'refresh_token'],
      scopes: ['conformance:read'],
      redirectUris: ['http://127.0.0.1/callback'],
    });
    clientId = created.client.clientId;
  });

  after(async () => {
    await latchkey?.close();
  });

  // The code grant scenario reads the metadata the metadata scenario fetched: they run together.
  test('every scenario passes: metadata, and the code grant with PKCE and resource but no scope', async () => {
    const port = await freePort();
    let walked: Promise<void> | undefined;
    let callback = '';
    const run = await runScenario(
      ['--url', latchkey.issuer, '--client-id', clientId, '--resource', mcpUrl, '--port', String(port)],
      (output) => {
        const url = /(https?:\/\/\S+\/authorize\?\S+)/.exec(output)?.[1];
        if (url === undefined || walked !== undefined) return;
        walked = (async () => {
          const result = await walkAuthorization(new FormBrowser(), latchkey.issuer, url);
          callback = result.callback.href;
          // The browser's last step: back to the tool's callback server.
          await fetch(result.callback);
        })();
      },
    );
    await walked;
    assert.ok(walked, `the tool printed no authorization URL:\n${run.output}`);
    assert.equal(run.code, 0, `${run.output}\nthe browser was sent back to ${callback}`);
    assert.match(run.output, /authorization-server-metadata-endpoint/);
    assert.match(run.output, /authorization-code-grant/);
    assert.doesNotMatch(run.output, /FAILURE|SKIPPED/, run.output);
  });
});
