"""The function's handler: puremod and tmpdump_cext exist only in the tmpdump
(tmpdump_cext needs libtmpdump_testdep.so from its lib/), layermod only in the
layer's python/."""
import os
import sys

import layermod
import puremod
import tmpdump_cext


def handler(event, context):
    return {
        "cext": tmpdump_cext.greeting(),
        "puremod": puremod.hello(),
        "layermod": layermod.where(),
        "argv": sys.argv,
        "sys_path": sys.path,
        "exec_env": os.environ.get("AWS_EXECUTION_ENV"),
        "app_root": context["app_root"],
        "event": event,
    }
