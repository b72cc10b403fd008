// Stands in for the Lambda Java runtime interface client's entry point (same
// class name, same arguments: the handler, "class::method"): it loads the
// handler the way the real one does (a child class loader over the task root
// and its lib/*.jar, the system class loader as parent) and serves it the
// Runtime API with java.net.http. Each response reports what the JVM was
// started with, so a test can compare it with Lambda's command line.
package com.amazonaws.services.lambda.runtime.api.client;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.lang.reflect.Method;
import java.net.URI;
import java.net.URL;
import java.net.URLClassLoader;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;

public final class AWSLambda {
  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    return b.append('"').toString();
  }

  private static String list(List<String> items) {
    List<String> quoted = new ArrayList<>();
    for (String s : items) quoted.add(quote(s));
    return "[" + String.join(",", quoted) + "]";
  }

  public static void main(String[] args) throws Exception {
    String base = "http://" + System.getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime";
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

    Method method;
    Object instance;
    try {
      String task = System.getProperty("user.dir");
      List<URL> urls = new ArrayList<>();
      urls.add(new File(task).toURI().toURL());
      File[] jars = new File(task, "lib").listFiles((dir, name) -> name.endsWith(".jar"));
      if (jars != null) {
        for (File jar : jars) urls.add(jar.toURI().toURL());
      }
      URLClassLoader customer = new URLClassLoader(urls.toArray(new URL[0]), ClassLoader.getSystemClassLoader());
      Thread.currentThread().setContextClassLoader(customer);
      String[] spec = args[0].split("::");
      Class<?> handler = Class.forName(spec[0], true, customer);
      instance = handler.getDeclaredConstructor().newInstance();
      // A stream handler (InputStream, OutputStream), as the real client takes
      // it, or the String handler the other tests use.
      Method found;
      try {
        found = handler.getMethod(spec[1], java.io.InputStream.class, java.io.OutputStream.class);
      } catch (NoSuchMethodException e) {
        found = handler.getMethod(spec[1], String.class);
      }
      method = found;
    } catch (Throwable t) {
      Throwable cause = t;
      while (cause.getCause() != null) cause = cause.getCause();
      String body = "{\"errorType\":" + quote(cause.getClass().getName()) + ",\"errorMessage\":" + quote(String.valueOf(cause.getMessage())) + "}";
      http.send(HttpRequest.newBuilder(URI.create(base + "/init/error"))
                    .header("Lambda-Runtime-Function-Error-Type", "Runtime.ClassNotFound")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.discarding());
      System.exit(1);
      return;
    }

    for (;;) {
      HttpResponse<String> next = http.send(HttpRequest.newBuilder(URI.create(base + "/invocation/next")).GET().build(),
                                            HttpResponse.BodyHandlers.ofString());
      String id = next.headers().firstValue("Lambda-Runtime-Aws-Request-Id").orElseThrow();
      String body;
      String what = "response";
      try {
        if (method.getParameterCount() == 2) {
          // Streams: the response is what the handler wrote, as with the real client.
          java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
          method.invoke(instance, new java.io.ByteArrayInputStream(next.body().getBytes(java.nio.charset.StandardCharsets.UTF_8)), out);
          body = out.toString(java.nio.charset.StandardCharsets.UTF_8);
        } else {
          Object said = method.invoke(instance, next.body());
          body = "{\"handler\":" + quote(String.valueOf(said))
              + ",\"args\":" + list(List.of(args))
              + ",\"jvm\":" + list(ManagementFactory.getRuntimeMXBean().getInputArguments())
              + ",\"classpath\":" + quote(System.getProperty("java.class.path"))
              + ",\"maxHeapBytes\":" + Runtime.getRuntime().maxMemory()
              + ",\"javaHome\":" + quote(System.getProperty("java.home"))
              + ",\"execEnv\":" + quote(String.valueOf(System.getenv("AWS_EXECUTION_ENV"))) + "}";
        }
      } catch (Throwable t) {
        Throwable cause = t;
        while (cause.getCause() != null) cause = cause.getCause();
        body = "{\"errorType\":" + quote(cause.getClass().getName()) + ",\"errorMessage\":" + quote(String.valueOf(cause)) + "}";
        what = "error";
      }
      http.send(HttpRequest.newBuilder(URI.create(base + "/invocation/" + id + "/" + what))
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.discarding());
    }
  }
}
