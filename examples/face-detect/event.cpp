#include "event.hpp"

#include <climits>
#include <cmath>
#include <memory>
#include <new>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace face_detect {

namespace {

constexpr std::string_view kExpected = R"(expected {"image": "<base64 JPEG or PNG>"})";

// OpenSSL's PEM base64 decoder (libcrypto is in the tmpdump anyway: OpenCV's
// own dependencies need it). It skips whitespace and line breaks and rejects
// any other character outside the alphabet.
std::expected<std::string, Failure> decode_base64(std::string_view text) {
  if (text.starts_with("data:")) {
    const auto comma = text.find(',');
    if (comma == std::string_view::npos || text.substr(0, comma).find(";base64") == std::string_view::npos) {
      return std::unexpected(Failure{"FaceDetect.BadImage", "\"image\" is a data URL but not a base64 one"});
    }
    text.remove_prefix(comma + 1);
  }
  if (text.size() > INT_MAX / 2) return std::unexpected(Failure{"FaceDetect.BadImage", "\"image\" is too large"});
  std::unique_ptr<EVP_ENCODE_CTX, decltype(&EVP_ENCODE_CTX_free)> ctx(EVP_ENCODE_CTX_new(), EVP_ENCODE_CTX_free);
  if (!ctx) throw std::bad_alloc();
  EVP_DecodeInit(ctx.get());
  std::string out(text.size() / 4 * 3 + 80, '\0');
  auto* dst = reinterpret_cast<unsigned char*>(out.data());
  int n = 0, tail = 0;
  const int rc = EVP_DecodeUpdate(ctx.get(), dst, &n, reinterpret_cast<const unsigned char*>(text.data()),
                                  static_cast<int>(text.size()));
  if (rc < 0 || EVP_DecodeFinal(ctx.get(), dst + n, &tail) < 0) {
    return std::unexpected(Failure{"FaceDetect.BadImage",
                                   "\"image\" is not valid base64 (standard alphabet A-Z a-z 0-9 + /, '=' padding)"});
  }
  out.resize(static_cast<std::size_t>(n + tail));
  return out;
}

double round2(double v) {
  return std::round(v * 100) / 100;
}

}  // namespace

std::expected<std::string, Failure> image_from_event(std::string_view event) {
  const auto doc = nlohmann::json::parse(event, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return std::unexpected(
        Failure{"FaceDetect.BadRequest", "the event is not a JSON object; " + std::string(kExpected)});
  }
  const auto it = doc.find("image");
  if (it == doc.end())
    return std::unexpected(Failure{"FaceDetect.BadImage", "the event has no \"image\"; " + std::string(kExpected)});
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    return std::unexpected(
        Failure{"FaceDetect.BadImage", "\"image\" must be a non-empty string; " + std::string(kExpected)});
  }
  return decode_base64(it->get_ref<const std::string&>());
}

std::string to_json(const Detection& d) {
  nlohmann::ordered_json faces = nlohmann::ordered_json::array();
  for (const auto& b : d.faces) faces.push_back({{"x", b.x}, {"y", b.y}, {"width", b.width}, {"height", b.height}});
  return nlohmann::ordered_json{{"faces", std::move(faces)},
                                {"image", {{"width", d.image_width}, {"height", d.image_height}}},
                                {"decode_ms", round2(d.decode_ms)},
                                {"detect_ms", round2(d.detect_ms)}}
      .dump();
}

}  // namespace face_detect
