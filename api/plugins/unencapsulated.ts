/**
 * Marks a plugin as not encapsulated, so its hooks and error handler apply to
 * the whole app: the documented `skip-override` property that fastify-plugin
 * sets, without adding that package as a dependency.
 */
export function unencapsulated<P extends (...args: never[]) => unknown>(plugin: P): P {
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
  return plugin;
}
