// A class from a jar in the task's lib/, to show that lib/* is on the system class path.
package example;

public final class Greeter {
  public static String prefix() {
    return "Hello, ";
  }
}
