/* The JNI library of example.Handler. It needs libtmpdump_testdep.so, which
 * (like this library) exists only in the tmpdump. */
#include <jni.h>

#include "testdep.h"

JNIEXPORT jstring JNICALL Java_example_Handler_greeting(JNIEnv* env, jclass cls) {
  (void)cls;
  return (*env)->NewStringUTF(env, testdep_greeting());
}
