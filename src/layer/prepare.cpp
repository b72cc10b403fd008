#include "layer/prepare.hpp"

#include "layer/library_path.hpp"

namespace tmpdump::layer {

Result<Prepared> prepare(const Env& env, const PrepareHooks& hooks) {
  auto config = load_config(env);
  if (!config) return std::unexpected(config.error());
  if (hooks.before_pull) hooks.before_pull(*config);
  auto pull = pull_configured(*config, env, hooks.notice);
  if (!pull) return std::unexpected(pull.error());

  Prepared out;
  out.config = std::move(*config);
  out.pull = std::move(*pull);
  out.inherited_library_path = env("LD_LIBRARY_PATH");
  out.cpu_has_v3 = cpu_has_x86_64_v3();
  out.library_path = library_path(out.config.root, out.pull.installed, out.config.task_root,
                                  out.inherited_library_path.value_or(""), out.cpu_has_v3);
  return out;
}

}  // namespace tmpdump::layer
