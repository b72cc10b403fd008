// The function's handler: its JNI library exists only in the tmpdump.
package example;

public class Handler {
  static {
    System.loadLibrary("tmpdumpjni");
  }

  private static native String greeting();

  public String handleRequest(String input) {
    return Greeter.prefix() + greeting();
  }
}
