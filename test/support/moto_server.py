# moto_server as the suites start it: the same server, with one cost removed.
#
# With MOTO_IAM_LOAD_MANAGED_POLICIES=true (real accounts have AWS's managed
# policies; deploy attaches one), moto builds ~1,500 policy objects from a 4 MB
# JSON string every time an IAM backend is made, and a reset makes each one
# twice (BackendDict.reset re-initialises every backend, then discards it).
# The suites reset moto before most tests, so that was about half a second of
# CPU per test. Here the JSON is parsed and each document serialised once per
# process, and a reset only discards the IAM backend; the next IAM call builds
# a fresh one, with fresh policy objects (attachment counts start at zero), as
# before. Nothing moto answers changes.
#
# Where Python here has no moto, or a moto whose internals moved, this runs
# the plain moto_server instead (same arguments), so it can only be slower.
import os
import sys


def plain() -> None:
    beside = os.path.join(os.path.dirname(sys.executable), "moto_server")
    command = beside if os.access(beside, os.X_OK) else "moto_server"
    os.execvp(command, [command, *sys.argv[1:]])


try:
    import json

    from moto.iam import models as iam
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.server import main
    from datetime import datetime

    _load = iam.load_iam_aws_managed_policies
    _policy = iam.AWSManagedPolicy
    _backend = iam.IAMBackend
    if not (hasattr(_backend, "_init_aws_policies") and hasattr(_backend, "reset")):
        raise ImportError("moto.iam.models.IAMBackend moved")
except ImportError:
    plain()

_templates = None


def _init_aws_policies(self):  # type: ignore[no-untyped-def]
    global _templates
    if not _load():
        return []
    if _templates is None:
        _templates = [
            (
                name,
                dict(
                    default_version_id=d.get("DefaultVersionId"),
                    path=d.get("Path"),
                    document=json.dumps(d.get("Document")),
                    create_date=datetime.fromisoformat(d["CreateDate"]),
                    update_date=datetime.fromisoformat(d["UpdateDate"]),
                ),
            )
            for name, d in json.loads(aws_managed_policies_data).items()
        ]
    return [_policy(name, account_id=self.account_id, region=self.region_name, **kw) for name, kw in _templates]


def _reset(self):  # type: ignore[no-untyped-def]
    # Called only by BackendDict.reset, which drops this backend right after.
    self.__dict__ = {}


_backend._init_aws_policies = _init_aws_policies
_backend.reset = _reset
sys.exit(main())
