// face-detect-test-image: the demo's and the test's images, made the same way
// every time.
//   face-detect-test-image noface OUT.png     a 640x480 street scene drawn with
//                                             OpenCV: sky, sun, houses, a road;
//                                             edges and texture, but no face
//   face-detect-test-image jpeg IN OUT.jpg    IN re-encoded as a JPEG (quality 90)
#include <cstdio>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace {

cv::Mat street() {
  cv::Mat img(480, 640, CV_8UC3);
  for (int y = 0; y < img.rows; ++y) {  // sky: blue at the top, paler at the horizon
    const auto t = static_cast<double>(y) / 300.0;
    img.row(y).setTo(cv::Scalar(235 - 40 * (1 - t), 200 + 30 * t, 150 + 80 * t));
  }
  cv::rectangle(img, {0, 300}, {640, 480}, cv::Scalar(70, 110, 60), cv::FILLED);  // grass
  cv::rectangle(img, {0, 400}, {640, 470}, cv::Scalar(80, 80, 80), cv::FILLED);   // road
  for (int x = 10; x < 640; x += 80) cv::rectangle(img, {x, 432}, {x + 40, 438}, cv::Scalar(230, 230, 230), cv::FILLED);
  cv::circle(img, {540, 80}, 45, cv::Scalar(60, 220, 250), cv::FILLED);  // sun
  for (int i = 0; i < 4; ++i) {                                          // houses
    const int x = 40 + i * 150;
    cv::rectangle(img, {x, 220}, {x + 110, 330}, cv::Scalar(60 + 40 * i, 90, 170 - 30 * i), cv::FILLED);
    const cv::Point roof[] = {{x - 10, 220}, {x + 55, 160}, {x + 120, 220}};
    cv::fillConvexPoly(img, roof, 3, cv::Scalar(40, 40, 120));
    cv::rectangle(img, {x + 45, 280}, {x + 70, 330}, cv::Scalar(30, 50, 80), cv::FILLED);     // door
    cv::rectangle(img, {x + 12, 240}, {x + 32, 300}, cv::Scalar(210, 190, 120), cv::FILLED);  // tall window
  }
  cv::RNG rng(7);  // fixed seed: grass texture, the same every run
  for (int i = 0; i < 400; ++i) {
    const cv::Point p(rng.uniform(0, 640), rng.uniform(335, 400));
    cv::line(img, p, p + cv::Point(rng.uniform(-3, 4), -rng.uniform(3, 9)), cv::Scalar(40, 140, 50), 1);
  }
  return img;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "noface" && argc == 3) {
    if (cv::imwrite(argv[2], street())) return 0;
  } else if (what == "jpeg" && argc == 4) {
    const cv::Mat in = cv::imread(argv[2], cv::IMREAD_COLOR);
    if (!in.empty() && cv::imwrite(argv[3], in, {cv::IMWRITE_JPEG_QUALITY, 90})) return 0;
  } else {
    std::fprintf(stderr, "usage: face-detect-test-image noface OUT.png | jpeg IN OUT.jpg\n");
    return 2;
  }
  std::fprintf(stderr, "face-detect-test-image: could not write the image\n");
  return 1;
}
