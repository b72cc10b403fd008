#include "pack/manifest.hpp"

namespace tmpdump::pack {

using json = nlohmann::json;

Result<Manifest> parse_manifest(std::string_view text, std::string_view name) {
  const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return fail(Errc::Corrupt, "{} is not a JSON object", name);
  // Only typed accessors below: json::value() and get<>() throw on a wrong
  // type, and a hostile manifest must not end the process.
  const auto format = doc.find("format");
  if (format == doc.end() || !format->is_number() || *format != 1) {
    return fail(Errc::Unsupported, "{} has format {}, this tmpdump reads 1", name,
                format == doc.end() ? "null" : format->dump());
  }
  Manifest m;
  if (auto it = doc.find("created_by"); it != doc.end() && it->is_string()) m.created_by = it->get<std::string>();
  if (auto it = doc.find("symlinks"); it != doc.end() && it->is_array()) {
    for (const auto& s : *it) {
      if (!s.is_object()) continue;
      const auto path = s.find("path"), target = s.find("target");
      if (path == s.end() || target == s.end() || !path->is_string() || !target->is_string()) continue;
      m.symlinks[path->get<std::string>()] = target->get<std::string>();
    }
  }
  if (auto it = doc.find("compression"); it != doc.end() && it->is_string()) m.compression = it->get<std::string>();
  if (auto it = doc.find("level"); it != doc.end() && it->is_number_integer()) {
    // Read as signed only when it fits: a huge unsigned value is no level.
    const bool fits = !it->is_number_unsigned() || it->get<std::uint64_t>() <= 22;
    if (const auto l = fits ? it->get<std::int64_t>() : 0; l >= 1 && l <= 22) m.level = static_cast<int>(l);
  }
  if (auto it = doc.find("variants"); it != doc.end() && it->is_object()) {
    m.variants.emplace();
    for (const auto& [k, v] : it->items()) {
      if (v.is_string()) (*m.variants)[k] = v.get<std::string>();
    }
  }
  if (auto it = doc.find("left_out"); it != doc.end() && it->is_array()) {
    for (const auto& l : *it) {
      if (!l.is_object()) continue;
      const auto path = l.find("path"), by = l.find("provided_by");
      if (path == l.end() || by == l.end() || !path->is_string() || !by->is_string()) continue;
      Manifest::LeftOut entry{path->get<std::string>(), by->get<std::string>(), {}};
      if (auto names = l.find("names"); names != l.end() && names->is_array()) {
        for (const auto& n : *names) {
          if (n.is_string()) entry.names.push_back(n.get<std::string>());
        }
      }
      m.left_out.push_back(std::move(entry));
    }
  }
  if (auto it = doc.find("requirements"); it != doc.end()) {
    m.requirements = *it;
    if (it->is_object()) {
      if (auto g = it->find("glibc"); g != it->end() && g->is_string()) m.glibc = g->get<std::string>();
      // Unsigned values above INT64_MAX are not a level anyone means: ignored.
      if (auto l = it->find("x86_isa_level"); l != it->end() && l->is_number_integer() &&
                                              !(l->is_number_unsigned() && l->get<std::uint64_t>() > INT64_MAX)) {
        m.x86_isa_level = l->get<std::int64_t>();
      }
    }
  }
  return m;
}

}  // namespace tmpdump::pack
