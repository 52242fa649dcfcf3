import { writeFileSync } from 'node:fs';
import { exportDocument, exportYaml } from '../config-as-code/export.ts';
import { readState } from '../config-as-code/state.ts';
import type { CommandArgs } from './io.ts';
import { withContext } from './with-context.ts';

/** `latchkey export [--output FILE]`: the database's configuration in the format `latchkey apply` reads, without secrets. */
export async function exportCommand(args: CommandArgs): Promise<number> {
  return withContext(args, async (ctx, registry) => {
    const { spec } = await readState(ctx, registry);
    const text = args.values.json === true ? JSON.stringify(exportDocument(spec), null, 2) : exportYaml(spec);
    const output = args.values.output;
    if (typeof output === 'string' && output !== '') {
      writeFileSync(output, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o600 });
      args.io.err(`wrote ${output}`);
    } else {
      args.io.out(text.replace(/\n$/, ''));
    }
    return 0;
  });
}
