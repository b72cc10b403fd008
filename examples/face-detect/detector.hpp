// Face detection with OpenCV's Haar cascade: where the cascade file is, and
// from encoded image bytes to face boxes.
#pragma once

#include <expected>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace face_detect {

/// A failure a caller can report as a Lambda error: errorType and errorMessage.
struct Failure {
  std::string type;     ///< e.g. "FaceDetect.BadImage"
  std::string message;  ///< says what was wrong with the input and what is expected
};

/// The file name of the cascade, as opencv-data ships it.
inline constexpr std::string_view kCascadeName = "haarcascade_frontalface_default.xml";

/// Where the cascade was found, or every place that was tried.
struct CascadeLookup {
  std::filesystem::path path;      ///< empty when not found
  std::vector<std::string> tried;  ///< the candidates, in order
};

/// Looks for the cascade file, first hit wins:
///   1. $FACE_DETECT_CASCADE (a file);
///   2. <directory OpenCV's objdetect library was loaded from>/../share/face-detect/
///      — in a tmpdump packed with `--add DIR=share/face-detect`, that is
///      <root>/share/face-detect/, wherever the bootstrap unpacked it;
///   3. /usr/share/opencv4/haarcascades/ (Debian's opencv-data, for local runs).
[[nodiscard]] CascadeLookup find_cascade();

/// Face boxes in image pixels, plus what a caller may want to log.
struct Box {
  int x, y, width, height;
};
struct Detection {
  std::vector<Box> faces;
  int image_width = 0, image_height = 0;
  double decode_ms = 0, detect_ms = 0;
};

/// A loaded cascade. Not thread-safe (one invocation at a time, as on Lambda).
class Detector {
 public:
  /// Loads the cascade; FaceDetect.BadCascade when the file is not a cascade.
  [[nodiscard]] static std::expected<Detector, Failure> load(const std::filesystem::path& cascade);
  ~Detector();
  Detector(Detector&&) noexcept;
  Detector& operator=(Detector&&) noexcept;

  /// Decodes a JPEG or PNG (other formats are refused before any decoder sees
  /// them) and finds frontal faces. FaceDetect.BadImage for anything else.
  [[nodiscard]] std::expected<Detection, Failure> detect(std::string_view encoded) const;

 private:
  struct State;
  explicit Detector(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace face_detect
