#include "detector.hpp"

#include <link.h>

#include <chrono>
#include <cstdlib>
#include <system_error>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

namespace face_detect {

namespace fs = std::filesystem;

namespace {

// The directory the dynamic loader took libopencv_objdetect from. Asking the
// loader (rather than assuming /tmp/lib) keeps TMPDUMP_ROOT, the bundled
// loader's --library-path and local runs all right.
fs::path objdetect_dir() {
  fs::path found;
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* out) {
        const std::string_view name = info->dlpi_name != nullptr ? info->dlpi_name : "";
        const auto slash = name.rfind('/');
        if (slash != std::string_view::npos && name.substr(slash + 1).starts_with("libopencv_objdetect.so")) {
          *static_cast<fs::path*>(out) = fs::path(name).parent_path();
          return 1;
        }
        return 0;
      },
      &found);
  return found;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

bool is_jpeg(std::string_view b) {
  return b.size() >= 3 && b.substr(0, 3) == "\xFF\xD8\xFF";
}
bool is_png(std::string_view b) {
  return b.size() >= 8 && b.substr(0, 8) == std::string_view("\x89PNG\r\n\x1A\n", 8);
}

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

CascadeLookup find_cascade() {
  CascadeLookup r;
  auto try_path = [&r](const fs::path& p) {
    r.tried.push_back(p.string());
    if (is_file(p)) r.path = p;
    return !r.path.empty();
  };
  if (const char* env = std::getenv("FACE_DETECT_CASCADE"); env != nullptr && *env != '\0') {
    // Named explicitly: no fallback, so a typo is an error rather than a surprise.
    try_path(env);
    return r;
  }
  if (const fs::path dir = objdetect_dir(); !dir.empty()) {
    if (try_path((dir / ".." / "share" / "face-detect" / kCascadeName).lexically_normal())) return r;
  }
  try_path(fs::path("/usr/share/opencv4/haarcascades") / kCascadeName);
  return r;
}

struct Detector::State {
  cv::CascadeClassifier classifier;
};

Detector::Detector(std::unique_ptr<State> state) : state_(std::move(state)) {}
Detector::~Detector() = default;
Detector::Detector(Detector&&) noexcept = default;
Detector& Detector::operator=(Detector&&) noexcept = default;

std::expected<Detector, Failure> Detector::load(const fs::path& cascade) {
  auto state = std::make_unique<State>();
  try {
    if (!state->classifier.load(cascade.string()) || state->classifier.empty()) {
      return std::unexpected(
          Failure{"FaceDetect.BadCascade", cascade.string() + " is not a Haar cascade OpenCV can load"});
    }
  } catch (const cv::Exception& e) {
    return std::unexpected(Failure{"FaceDetect.BadCascade", cascade.string() + ": " + e.what()});
  }
  return Detector(std::move(state));
}

std::expected<Detection, Failure> Detector::detect(std::string_view encoded) const {
  // Only the two formats the function promises reach a decoder: OpenCV's
  // imdecode would also hand untrusted bytes to TIFF, OpenEXR, GDAL and more.
  if (!is_jpeg(encoded) && !is_png(encoded)) {
    return std::unexpected(Failure{"FaceDetect.BadImage", "\"image\" decodes to " + std::to_string(encoded.size()) +
                                                              " bytes that are neither a JPEG nor a PNG"});
  }
  Detection d;
  cv::Mat gray;
  auto t0 = std::chrono::steady_clock::now();
  try {
    const cv::Mat buffer(1, static_cast<int>(encoded.size()), CV_8U, const_cast<char*>(encoded.data()));
    gray = cv::imdecode(buffer, cv::IMREAD_GRAYSCALE);
  } catch (const cv::Exception& e) {
    return std::unexpected(Failure{"FaceDetect.BadImage", std::string("\"image\" could not be decoded: ") + e.err});
  }
  if (gray.empty()) {
    return std::unexpected(Failure{"FaceDetect.BadImage", "\"image\" starts like a " +
                                                              std::string(is_png(encoded) ? "PNG" : "JPEG") +
                                                              " but could not be decoded (truncated or corrupt?)"});
  }
  d.decode_ms = ms_since(t0);
  d.image_width = gray.cols;
  d.image_height = gray.rows;

  t0 = std::chrono::steady_clock::now();
  cv::equalizeHist(gray, gray);
  std::vector<cv::Rect> rects;
  // minNeighbors 5 rather than OpenCV's 3: fewer false positives on textured
  // backgrounds, still finds frontal faces of 30 px and up.
  state_->classifier.detectMultiScale(gray, rects, 1.1, 5, 0, cv::Size(30, 30));
  d.detect_ms = ms_since(t0);
  for (const auto& r : rects) d.faces.push_back({r.x, r.y, r.width, r.height});
  return d;
}

}  // namespace face_detect
