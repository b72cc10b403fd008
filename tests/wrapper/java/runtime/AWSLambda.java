// Stands in for the Lambda Java runtime's entry point (same class name): like
// the real one, it loads the handler through a child URLClassLoader over the
// task directory and the jars in its lib/, with the system class loader as
// parent. It prints where the classes came from and what the handler said.
package com.amazonaws.services.lambda.runtime.api.client;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.util.ArrayList;
import java.util.List;

public final class AWSLambda {
  public static void main(String[] args) throws Exception {
    String task = System.getenv().getOrDefault("LAMBDA_TASK_ROOT", "/var/task");
    List<URL> urls = new ArrayList<>();
    urls.add(new File(task).toURI().toURL());
    File[] jars = new File(task, "lib").listFiles((dir, name) -> name.endsWith(".jar"));
    if (jars != null) {
      for (File jar : jars) urls.add(jar.toURI().toURL());
    }
    ClassLoader system = ClassLoader.getSystemClassLoader();
    URLClassLoader customer = new URLClassLoader(urls.toArray(new URL[0]), system);

    String[] spec = args[0].split("::");
    System.out.println("jvm options: " + ManagementFactory.getRuntimeMXBean().getInputArguments());
    System.out.println("java.library.path: " + System.getProperty("java.library.path"));
    Class<?> handler = Class.forName(spec[0], false, customer);
    System.out.println("handler loader: " + (handler.getClassLoader() == system ? "system" : "child"));
    Class<?> greeter = Class.forName("example.Greeter", false, customer);
    System.out.println("greeter loader: " + (greeter.getClassLoader() == system ? "system" : "child"));
    try {
      Object instance = handler.getDeclaredConstructor().newInstance();
      Method method = handler.getMethod(spec[1], String.class);
      System.out.println("handler says: " + method.invoke(instance, "event"));
    } catch (Throwable t) {
      Throwable cause = t;
      while (cause.getCause() != null) cause = cause.getCause();
      System.out.println("handler failed: " + cause);
      System.exit(1);
    }
  }
}
