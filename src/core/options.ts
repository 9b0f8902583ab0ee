// Reading a service's section of stratus.yaml into its typed options.

/**
 * The numeric options `defaults` names: each one as `section` sets it (a number, or a string where it came
 * from YAML text or the environment), else its default.
 */
export function numberOptions<K extends string>(
  section: { readonly [P in NoInfer<K>]?: number | string | null },
  defaults: Readonly<Record<K, number>>,
): Record<K, number> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(defaults) as K[]) out[k] = Number(section[k] ?? defaults[k]);
  return out;
}
