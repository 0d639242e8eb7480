# moto_server as the suites start it: the same server and the same answers,
# with the CPU moto 5 spends on work no answer depends on taken out. Measured
# with cProfile over test/deploy-stack.test.ts (7,153 requests, 38 s of moto
# CPU), these were over half of it:
#
# - Every request lists moto's package directory and stats each entry to
#   route the request (backends.list_of_moto_modules, 1.2 million calls):
#   the list is made once here.
# - Every request walks its response class with inspect.getmembers
#   (core.utils.method_names_from_class): done once per class here.
# - With MOTO_IAM_LOAD_MANAGED_POLICIES=true (real accounts have AWS's managed
#   policies; deploy attaches one), every IAM backend builds ~1,500 policy
#   objects from a 4 MB JSON string, and the first call after a reset makes a
#   backend for each of the 6 partitions (iam.models.get_account_id_from looks
#   the caller's access key up in all of them). The suites reset before most
#   tests. Here the JSON is parsed once, each policy gets one id for the
#   process (AWS's managed policies have the same id in every account), and a
#   backend builds its policy objects, fresh (attachment counts at zero), only
#   when something reads them.
#   A reset discards IAM backends without first rebuilding them
#   (BackendDict.reset re-initialises every backend, then drops it).
# - Every KMS key gets an RSA-2048 private key at creation, symmetric ones
#   included; only asymmetric Sign/Verify/GetPublicKey read it. It is made on
#   first use here.
#
# Each patch is applied only where moto still has the names it replaces; with
# no moto importable here, the plain moto_server runs instead (same
# arguments). Either way the answers are moto's own.
import os
import sys


def plain() -> None:
    beside = os.path.join(os.path.dirname(sys.executable), "moto_server")
    command = beside if os.access(beside, os.X_OK) else "moto_server"
    os.execvp(command, [command, *sys.argv[1:]])


try:
    import json
    from datetime import datetime

    from moto import backends
    from moto.server import main
except ImportError:
    plain()


def cache_module_list() -> None:
    listed = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: listed


def cache_method_names() -> None:
    from moto.core import responses, utils

    known: dict[type, list[str]] = {}
    original = utils.method_names_from_class

    def method_names_from_class(clazz):  # type: ignore[no-untyped-def]
        names = known.get(clazz)
        if names is None:
            names = known[clazz] = original(clazz)
        return names

    responses.method_names_from_class = method_names_from_class


def lazy_managed_policies() -> None:
    from moto.iam import models as iam
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    backend = iam.IAMBackend
    if not all(hasattr(backend, n) for n in ("_init_aws_policies", "_init_managed_policies", "reset")):
        return
    if not all(hasattr(iam, n) for n in ("AWSManagedPolicy", "load_iam_aws_managed_policies", "random_policy_id")):
        return
    templates: list[tuple[str, dict, str]] = []
    pending = object()

    def build(self) -> None:  # type: ignore[no-untyped-def]
        if not iam.load_iam_aws_managed_policies():
            policies = []
        else:
            if not templates:
                for name, d in json.loads(aws_managed_policies_data).items():
                    kw = dict(
                        default_version_id=d.get("DefaultVersionId"),
                        path=d.get("Path"),
                        document=json.dumps(d.get("Document")),
                        create_date=datetime.fromisoformat(d["CreateDate"]),
                        update_date=datetime.fromisoformat(d["UpdateDate"]),
                    )
                    # An AWS managed policy's id is the same in every account, as in AWS.
                    templates.append((name, kw, iam.random_policy_id()))
            made = iam.random_policy_id
            try:
                policies = []
                for name, kw, policy_id in templates:
                    iam.random_policy_id = lambda: policy_id  # noqa: B023 (called at once, in the constructor)
                    policies.append(iam.AWSManagedPolicy(name, account_id=self.account_id, region=self.region_name, **kw))
            finally:
                iam.random_policy_id = made
        self.__dict__["aws_managed_policies"] = policies
        self.__dict__["managed_policies"] = {p.arn: p for p in policies}

    class Lazy:
        def __init__(self, name: str) -> None:
            self.name = name

        def __get__(self, obj, cls=None):  # type: ignore[no-untyped-def]
            if obj is None:
                return self
            if obj.__dict__.get(self.name, pending) is pending:
                build(obj)
            return obj.__dict__[self.name]

        def __set__(self, obj, value) -> None:  # type: ignore[no-untyped-def]
            obj.__dict__[self.name] = value

    backend._init_aws_policies = lambda self: pending
    backend._init_managed_policies = lambda self: pending
    backend.aws_managed_policies = Lazy("aws_managed_policies")
    backend.managed_policies = Lazy("managed_policies")

    def reset(self) -> None:  # type: ignore[no-untyped-def]
        # Only BackendDict.reset calls this, and it drops the backend right after.
        self.__dict__ = {}

    backend.reset = reset


def lazy_kms_private_keys() -> None:
    from moto.kms import models as kms

    make = kms.generate_private_key

    class OnFirstUse:
        def __init__(self, spec: str) -> None:
            self._spec = spec
            self._key = None

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            if self._key is None:
                self._key = make(self._spec)
            return getattr(self._key, name)

    kms.generate_private_key = OnFirstUse


for patch in (cache_module_list, cache_method_names, lazy_managed_policies, lazy_kms_private_keys):
    try:
        patch()
    except (ImportError, AttributeError):
        pass  # this moto moved the name: its own (slower) code runs

sys.exit(main())
