import { readFileSync } from 'node:fs';
import { applyPlan, ApplyError } from '../config-as-code/apply.ts';
import { makePlan } from '../config-as-code/plan.ts';
import { planJson, planText } from '../config-as-code/render.ts';
import { readReferences } from '../config-as-code/secrets.ts';
import { ConfigFileError, parseConfig } from '../config-as-code/spec.ts';
import { readState } from '../config-as-code/state.ts';
import { UserRegistry } from '../users/user-registry.ts';
import { requireString, type CommandArgs } from './io.ts';
import { withContext } from './with-context.ts';

/**
 * `latchkey apply --file FILE [--dry-run] [--prune]`: makes the database hold what the file declares
 * (config-as-code/), printing the plan first. Exit 2 for a file that is not valid, 1 for a change refused.
 */
export async function applyCommand(args: CommandArgs): Promise<number> {
  const file = requireString(args.values, 'file');
  const json = args.values.json === true;
  let parsed;
  try {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigFileError('', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const spec = parseConfig(text, file);
    parsed = { spec, secrets: readReferences(spec, file) };
  } catch (err) {
    if (!(err instanceof ConfigFileError)) throw err;
    if (json) args.io.out(JSON.stringify({ error: 'invalid_file', path: err.path, message: err.message }));
    args.io.err(`error: ${file}: ${err.message}`);
    return 2;
  }
  const { spec, secrets } = parsed;
  return withContext(args, async (ctx, registry) => {
    const users = new UserRegistry(ctx.storage);
    const current = await readState(ctx, registry);
    const plan = await makePlan(spec, secrets, current, { prune: args.values.prune === true, passwordMatches: (u, p) => users.passwordMatches(u, p) });
    const dryRun = args.values['dry-run'] === true;
    if (dryRun || plan.refused.length > 0 || plan.changes.length === 0) {
      if (json) args.io.out(JSON.stringify({ plan: planJson(plan), applied: [] }, null, 2));
      else args.io.out(planText(plan) + (plan.refused.length > 0 ? '\nnothing applied: the file asks for changes that cannot be made' : dryRun && plan.changes.length > 0 ? '\n(dry run: nothing applied)' : ''));
      return plan.refused.length > 0 ? 1 : 0;
    }
    try {
      const done = await applyPlan(ctx, registry, plan, spec, secrets, current);
      if (json) args.io.out(JSON.stringify({ plan: planJson(plan), applied: done }, null, 2));
      else args.io.out(`${planText(plan)}\napplied ${done.length} change(s)`);
      return 0;
    } catch (err) {
      if (!(err instanceof ApplyError)) throw err;
      if (json) args.io.out(JSON.stringify({ plan: planJson(plan), applied: err.done, error: err.code, message: err.message }, null, 2));
      else args.io.out(`${planText(plan)}\napplied before the error: ${err.done.length ? err.done.join(', ') : 'nothing'}`);
      args.io.err(`error: ${err.message}`);
      return 1;
    }
  });
}
