// A Java Lambda handler with a JNI library, as Java ML users write them: the
// OpenCV Java bindings (Debian's libopencv-java jar + libopencv406-jni) load
// libopencv_java460.so in a static block, and that library needs ~270 others.
// None of them is in the function package: they travel in a tmpdump that the
// layer's tmpdump-exec-wrapper pulls into /tmp before the JVM starts.
//
// Event: {"image": "<base64 PNG or JPEG>"}. Response: the image's size, the
// number of edge pixels Canny finds, and where the JNI library was loaded from.
//
// A stream handler (InputStream, OutputStream) needs no Lambda jar to compile:
// Lambda's Java runtime calls any public method of that shape.
package example;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.opencv.core.Core;
import org.opencv.core.Mat;
import org.opencv.core.MatOfByte;
import org.opencv.core.Size;
import org.opencv.imgcodecs.Imgcodecs;
import org.opencv.imgproc.Imgproc;

public class EdgeCount {
  static {
    // Found through java.library.path, which the exec wrapper points at the tmpdump.
    System.loadLibrary(Core.NATIVE_LIBRARY_NAME);
  }

  private static final Pattern IMAGE = Pattern.compile("\"image\"\\s*:\\s*\"([A-Za-z0-9+/=\\s]*)\"");

  public void handleRequest(InputStream in, OutputStream out) throws IOException {
    String event = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    Matcher m = IMAGE.matcher(event);
    if (!m.find()) throw new IllegalArgumentException("the event has no \"image\" (base64 PNG or JPEG)");
    byte[] bytes = Base64.getMimeDecoder().decode(m.group(1));
    out.write(count(bytes).getBytes(StandardCharsets.UTF_8));
  }

  static String count(byte[] encoded) {
    Mat image = Imgcodecs.imdecode(new MatOfByte(encoded), Imgcodecs.IMREAD_GRAYSCALE);
    if (image.empty()) throw new IllegalArgumentException("the image could not be decoded");
    Mat blurred = new Mat();
    Imgproc.GaussianBlur(image, blurred, new Size(5, 5), 1.5);
    Mat edges = new Mat();
    Imgproc.Canny(blurred, edges, 50, 150);
    return String.format("{\"width\": %d, \"height\": %d, \"edges\": %d, \"opencv\": \"%s\", \"library\": \"%s\"}",
        image.cols(), image.rows(), Core.countNonZero(edges), Core.VERSION, loadedFrom());
  }

  /// Where libopencv_java460.so was mapped from, as /proc/self/maps says.
  static String loadedFrom() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
        int at = line.indexOf('/');
        if (at >= 0 && line.endsWith(System.mapLibraryName(Core.NATIVE_LIBRARY_NAME))) return line.substring(at);
      }
    } catch (IOException e) {
      return "unknown";
    }
    return "unknown";
  }
}
