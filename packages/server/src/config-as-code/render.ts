import type { Plan } from './plan.ts';

const SIGN = { create: '+', update: '~', delete: '-' } as const;

/** The plan as `latchkey apply` prints it: one line per object, one indented line per changed field. */
export function planText(plan: Plan): string {
  const lines: string[] = [];
  for (const c of plan.changes) {
    lines.push(`${SIGN[c.action]} ${c.action} ${c.kind} ${c.id}`);
    for (const f of c.fields) lines.push(f.secret ? `    ${f.field}: (changed; not shown)` : `    ${f.field}: ${show(f.from)} -> ${show(f.to)}`);
  }
  for (const r of plan.refused) lines.push(`! refused ${r.kind} ${r.id}: ${r.message}`);
  const count = (action: string) => plan.changes.filter((c) => c.action === action).length;
  lines.push(
    plan.changes.length === 0 && plan.refused.length === 0
      ? `no changes (${plan.unchanged.length} unchanged)`
      : `plan: ${count('create')} to create, ${count('update')} to update, ${count('delete')} to delete, ${plan.unchanged.length} unchanged${plan.refused.length ? `, ${plan.refused.length} refused` : ''}`,
  );
  return lines.join('\n');
}

/** The plan as --json prints it. */
export function planJson(plan: Plan) {
  return {
    changes: plan.changes.map((c) => ({
      action: c.action,
      kind: c.kind,
      id: c.id,
      ...(c.action === 'update' ? { fields: c.fields.map((f) => (f.secret ? { field: f.field, secret: true } : { field: f.field, from: f.from ?? null, to: f.to ?? null })) } : {}),
    })),
    unchanged: plan.unchanged.length,
    refused: plan.refused,
  };
}

function show(value: unknown): string {
  if (value === undefined) return 'null';
  const text = JSON.stringify(value);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}
