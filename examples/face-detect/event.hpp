// The function's input and output documents.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "detector.hpp"

namespace face_detect {

/// The image bytes of an event {"image": "<base64 JPEG or PNG>"}. The base64
/// may be wrapped in lines and may carry a data-URL prefix
/// ("data:image/png;base64,"). FaceDetect.BadRequest when the event is not a
/// JSON object, FaceDetect.BadImage when "image" is missing, not a string or
/// not base64.
[[nodiscard]] std::expected<std::string, Failure> image_from_event(std::string_view event);

/// {"faces":[{"x":..,"y":..,"width":..,"height":..}...],
///  "image":{"width":..,"height":..},"decode_ms":..,"detect_ms":..}
[[nodiscard]] std::string to_json(const Detection& d);

}  // namespace face_detect
