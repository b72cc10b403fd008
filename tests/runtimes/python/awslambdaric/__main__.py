"""Stands in for awslambdaric's entry (python -m awslambdaric HANDLER): like the
real one, the application root is the working directory, the handler is
"module.function" (a "/" in the module part is a package path) imported with
importlib, and the Runtime API is served with urllib."""
import importlib
import json
import os
import sys
import urllib.request


def post(url, body, headers=None):
    req = urllib.request.Request(url, data=body.encode(), headers=headers or {}, method="POST")
    with urllib.request.urlopen(req) as r:
        r.read()


def main(args):
    app_root = os.getcwd()
    handler = args[1]
    base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
    try:
        modname, fname = handler.rsplit(".", 1)
        fn = getattr(importlib.import_module(modname.replace("/", ".")), fname)
    except Exception as e:  # the real client reports Runtime.ImportModuleError or Runtime.HandlerNotFound
        post(base + "/init/error", json.dumps({"errorType": type(e).__name__, "errorMessage": str(e)}),
             {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"})
        sys.exit(1)
    while True:
        with urllib.request.urlopen(base + "/invocation/next") as r:
            request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(r.read() or b"null")
        try:
            result = fn(event, {"app_root": app_root})
            post(base + "/invocation/" + request_id + "/response", json.dumps(result))
        except Exception as e:
            post(base + "/invocation/" + request_id + "/error",
                 json.dumps({"errorType": type(e).__name__, "errorMessage": str(e)}))


if __name__ == "__main__":
    main(sys.argv)
