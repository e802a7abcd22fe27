"""What the bench scripts' checks share (compare_sdpa_check.py, compare_cpu_check.py): counting
expectations, collecting failures, and the summary line CTest matches."""
import importlib.util
import sys

failures = []
checks = 0


def expect(condition, what):
    global checks
    checks += 1
    if not condition:
        failures.append(what)


def expect_raises(kind, call, says, what):
    try:
        call()
    except kind as exc:
        expect(says in str(exc), f"{what}: message {str(exc)!r} does not say {says!r}")
        return
    expect(False, f"{what}: no {kind.__name__} raised")


def load(path, name):
    """The script at `path` as a module, without running its main()."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def summary(name):
    """Prints the result as `<name>: all N checks passed` (or the failures); the exit code."""
    if failures:
        print(f"{name}: {len(failures)} of {checks} checks failed:")
        for failure in failures:
            print("  " + failure)
        return 1
    print(f"{name}: all {checks} checks passed")
    return 0
