// face-detect: a Lambda function in C++ that finds faces in an image.
//
//   event     {"image": "<base64 JPEG or PNG>"}
//   response  {"faces":[{"x":..,"y":..,"width":..,"height":..}],"image":{"width":..,"height":..},
//              "decode_ms":..,"detect_ms":..}
//   errors    FaceDetect.BadRequest (not a JSON object), FaceDetect.BadImage (no
//             "image", not base64, not a decodable JPEG/PNG); at init
//             FaceDetect.NoCascade / FaceDetect.BadCascade.
//
// `face-detect --self-test FILE...` runs the same detection on image files
// without the Runtime API: what `tmpdump trace` runs to record the libraries.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include <opencv2/core/version.hpp>
#include <tmpdump/runtime.hpp>

#include "detector.hpp"
#include "event.hpp"

namespace rt = tmpdump::runtime;
namespace fd = face_detect;

namespace {

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::expected<fd::Detector, fd::Failure> load_detector(std::string& summary) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto lookup = fd::find_cascade();
  if (lookup.path.empty()) {
    return std::unexpected(
        fd::Failure{"FaceDetect.NoCascade", std::string("cannot find ") + std::string(fd::kCascadeName) +
                                                "; looked at " + join(lookup.tried) +
                                                ". Pack it into the tmpdump (tmpdump pack --add DIR=share/face-detect) "
                                                "or set FACE_DETECT_CASCADE"});
  }
  auto detector = fd::Detector::load(lookup.path);
  if (detector) {
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    char text[64];
    std::snprintf(text, sizeof text, "%.1f ms", ms);
    summary = std::string("OpenCV ") + CV_VERSION + ", cascade " + lookup.path.string() + " loaded in " + text;
  }
  return detector;
}

int self_test(int argc, char** argv) {
  std::string summary;
  auto detector = load_detector(summary);
  if (!detector) {
    std::fprintf(stderr, "face-detect: %s: %s\n", detector.error().type.c_str(), detector.error().message.c_str());
    return 1;
  }
  std::fprintf(stderr, "face-detect: %s\n", summary.c_str());
  int status = 0;
  for (int i = 0; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    if (!in) {
      std::fprintf(stderr, "face-detect: cannot read %s\n", argv[i]);
      status = 1;
      continue;
    }
    auto d = detector->detect(bytes.str());
    if (d) {
      std::printf("%s: %s\n", argv[i], fd::to_json(*d).c_str());
    } else {
      std::printf("%s: %s: %s\n", argv[i], d.error().type.c_str(), d.error().message.c_str());
      status = 1;
    }
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  // OpenCV's default cap is 2^30 pixels (3 GB of RGB); a few-MB PNG can claim
  // that much. 50 megapixels is plenty for a photo and fits Lambda's memory.
  setenv("OPENCV_IO_MAX_IMAGE_PIXELS", "50000000", 0);

  if (argc >= 2 && std::string(argv[1]) == "--self-test") {
    if (argc < 3) {
      std::fprintf(stderr, "usage: face-detect --self-test IMAGE...\n");
      return 2;
    }
    return self_test(argc - 2, argv + 2);
  }

  std::string summary;
  auto detector = load_detector(summary);
  if (!detector) {
    std::fprintf(stderr, "face-detect: init failed: %s: %s\n", detector.error().type.c_str(),
                 detector.error().message.c_str());
    rt::report_init_error(detector.error().type, detector.error().message);
    return 1;
  }
  std::fprintf(stderr, "face-detect: init: %s\n", summary.c_str());
  std::fflush(stderr);

  return rt::run([&detector](const rt::Invocation& inv) {
    auto image = fd::image_from_event(inv.payload);
    if (!image) return rt::Response::failure(image.error().type, image.error().message);
    auto found = detector->detect(*image);
    if (!found) return rt::Response::failure(found.error().type, found.error().message);
    return rt::Response::success(fd::to_json(*found));
  });
}
