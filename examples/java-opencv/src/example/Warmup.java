// The warm-up `tmpdump trace` runs: what one invocation does, without Lambda.
//   tmpdump trace -o edge-count.trace -- java -cp <classes>:<opencv jar> -Djava.library.path=/usr/lib/jni example.Warmup IMAGE
// Every library the handler's first request loads is loaded here too, so the
// trace records them all.
package example;

import java.nio.file.Files;
import java.nio.file.Path;

public final class Warmup {
  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: example.Warmup IMAGE");
      System.exit(2);
    }
    System.out.println(EdgeCount.count(Files.readAllBytes(Path.of(args[0]))));
  }
}
