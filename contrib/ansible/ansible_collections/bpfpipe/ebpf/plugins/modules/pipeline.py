#!/usr/bin/python
# -*- coding: utf-8 -*-
# Apache-2.0 (see the repository's licence).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: pipeline
short_description: Deploy an eBPF pipeline with bpfpipe
version_added: "0.1.0"
description:
  - Loads, pins, attaches and smoke-tests the BPF programs a bpfpipe pipeline file declares, by
    running the C(bpfpipe) installed on the managed host.
  - Idempotent. A deployment that already matches the file (every pin and link in place, every
    program's code current, every object's pinned fingerprint the file's) is left alone and the
    task reports C(changed=false). Anything that reaches the kernel counts as a change (a global,
    a stage's values, the object's bytes, a map definition, an attach target); comments and key
    order do not.
  - Check mode runs C(bpfpipe diff) and deploys nothing.
  - A run that fails leaves the previous deployment running; the task fails with bpfpipe's
    error text and exit code.
options:
  pipeline:
    description:
      - Path of the pipeline file on the managed host. Relative paths inside it are relative to
        its folder.
      - Exactly one of I(pipeline) and I(pipeline_content) is required.
    type: path
  pipeline_content:
    description:
      - The pipeline file's text. The module writes it to I(pipeline_dir) under a name derived
        from the pipeline's C(name) and uses that file, so paths inside it should be absolute or
        relative to I(pipeline_dir).
    type: str
  pipeline_dir:
    description:
      - Where I(pipeline_content) is written.
    type: path
    default: /var/lib/bpfpipe/pipelines
  state:
    description:
      - C(present) deploys the pipeline (C(bpfpipe run)); C(absent) removes it (C(bpfpipe down)).
    type: str
    choices: [present, absent]
    default: present
  force:
    description:
      - Redeploy even when the deployment already matches the file (C(bpfpipe run --force)).
    type: bool
    default: false
  include_kept:
    description:
      - With C(state=absent), also remove kept maps (C(keep), C(pin=shared)) and their data.
    type: bool
    default: false
  cache_dir:
    description:
      - Where bpfpipe caches compiled objects (C(--cache-dir)); bpfpipe's default when unset.
    type: path
  bpfpipe_path:
    description:
      - The bpfpipe executable; looked up on C(PATH) when it has no slash.
    type: str
    default: bpfpipe
  lock_timeout:
    description:
      - Seconds to wait for another run on the same deployment (C(--lock-timeout)).
    type: int
    default: 60
requirements:
  - bpfpipe on the managed host, run as root (or with CAP_BPF and CAP_SYS_ADMIN)
author:
  - bpfpipe maintainers
notes:
  - Supports check mode.
"""

EXAMPLES = r"""
- name: Deploy the lab's packet counters
  bpfpipe.ebpf.pipeline:
    pipeline: /opt/lab/pipelines/counters.yaml

- name: Deploy an inline pipeline of prebuilt objects
  bpfpipe.ebpf.pipeline:
    pipeline_content: |
      version: 1
      name: lab-xdp
      objects:
        - name: filter
          path: /opt/lab/objects/filter.bpf.o
          programs:
            xdp_filter:
              attach: { xdp: { interface: eth1, mode: auto } }

- name: Redeploy even if nothing changed
  bpfpipe.ebpf.pipeline:
    pipeline: /opt/lab/pipelines/counters.yaml
    force: true

- name: Remove the deployment, its kept maps too
  bpfpipe.ebpf.pipeline:
    pipeline: /opt/lab/pipelines/counters.yaml
    state: absent
    include_kept: true
"""

RETURN = r"""
changed:
  description: Whether the deployment was (or, in check mode, would be) changed.
  returned: always
  type: bool
report:
  description:
    - bpfpipe's run report (C(--report)) for C(state=present) outside check mode; its
      C(changed) key says whether anything was deployed. Objects, programs, instances (ids,
      tags, pins), maps and links.
  returned: when state is present and not in check mode
  type: dict
diff_report:
  description: C(bpfpipe diff --json) in check mode; what a run would load, replace, keep or remove.
  returned: when state is present in check mode
  type: dict
removed:
  description: The pins C(bpfpipe down) removed (or would remove, in check mode).
  returned: when state is absent
  type: list
  elements: str
pipeline:
  description: The pipeline file used (the written file for I(pipeline_content)).
  returned: always
  type: str
rc:
  description:
    - bpfpipe's exit code when the task failed (1 a step failed, the previous deployment still
      running; 2 invalid input; 3 environment); 0 otherwise (in check mode too, where
      C(bpfpipe diff) exits 1 to say "would change": that is C(changed) instead).
  returned: always
  type: int
stderr:
  description: bpfpipe's log and error text.
  returned: always
  type: str
"""

import hashlib
import json
import os
import re
import tempfile

from ansible.module_utils.basic import AnsibleModule


def error_text(stderr):
    """The lines of bpfpipe's own error (from 'error: ' on), not its log records."""
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("error: "):
            return "\n".join(lines[i:])
    return stderr.strip() or "bpfpipe failed"


def write_content(module, content, directory):
    match = re.search(r"^name:\s*['\"]?([A-Za-z0-9_-]+)", content, re.MULTILINE)
    stem = match.group(1) if match else hashlib.sha256(content.encode()).hexdigest()[:16]
    path = os.path.join(directory, stem + ".yaml")
    try:
        with open(path, "r") as existing:
            if existing.read() == content:
                return path
    except (IOError, OSError):
        pass
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".pipeline-")
        with os.fdopen(fd, "w") as f:
            f.write(content)
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except (IOError, OSError) as e:
        module.fail_json(msg="cannot write the pipeline to %s: %s" % (path, e), changed=False, rc=-1, stderr="", pipeline=path)
    return path


def run_bpfpipe(module, bpfpipe, args):
    rc, out, err = module.run_command([bpfpipe] + args, environ_update={"LC_ALL": "C"})
    return rc, out, err


def main():
    module = AnsibleModule(
        argument_spec=dict(
            pipeline=dict(type="path"),
            pipeline_content=dict(type="str"),
            pipeline_dir=dict(type="path", default="/var/lib/bpfpipe/pipelines"),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            force=dict(type="bool", default=False),
            include_kept=dict(type="bool", default=False),
            cache_dir=dict(type="path"),
            bpfpipe_path=dict(type="str", default="bpfpipe"),
            lock_timeout=dict(type="int", default=60),
        ),
        required_one_of=[["pipeline", "pipeline_content"]],
        mutually_exclusive=[["pipeline", "pipeline_content"]],
        supports_check_mode=True,
    )
    p = module.params
    bpfpipe = p["bpfpipe_path"]
    if "/" not in bpfpipe:
        bpfpipe = module.get_bin_path(bpfpipe, required=True)
    elif not os.access(bpfpipe, os.X_OK):
        module.fail_json(msg="bpfpipe_path %s is not an executable" % bpfpipe, changed=False, rc=-1, stderr="", pipeline=p["pipeline"] or "")

    if p["pipeline_content"] is not None:
        if module.check_mode:
            # Check mode leaves nothing behind: plan from a hidden copy beside where the file
            # would go (so relative paths resolve the same), removed afterwards.
            where = p["pipeline_dir"] if os.path.isdir(p["pipeline_dir"]) else None
            fd, path = tempfile.mkstemp(suffix=".yaml", prefix=".check-", dir=where)
            with os.fdopen(fd, "w") as f:
                f.write(p["pipeline_content"])
            cleanup = path
        else:
            path = write_content(module, p["pipeline_content"], p["pipeline_dir"])
            cleanup = None
    else:
        path = p["pipeline"]
        cleanup = None
        if not os.path.exists(path):
            module.fail_json(msg="pipeline file %s does not exist" % path, changed=False, rc=2, stderr="", pipeline=path)

    common = []
    if p["cache_dir"]:
        common += ["--cache-dir", p["cache_dir"]]
    lock = ["--lock-timeout", str(p["lock_timeout"])]
    result = dict(changed=False, pipeline=path)
    try:
        if p["state"] == "present" and module.check_mode:
            rc, out, err = run_bpfpipe(module, bpfpipe, ["diff", path, "--json"] + common)
            result.update(rc=rc, stderr=err)
            if rc not in (0, 1):
                module.fail_json(msg=error_text(err), **result)
            result["diff_report"] = json.loads(out)
            result["changed"] = rc == 1
            # diff exits 1 for "would change"; Ansible reads a non-zero rc as a failure.
            result["rc"] = 0
        elif p["state"] == "present":
            fd, report_path = tempfile.mkstemp(suffix=".json", prefix="bpfpipe-report-")
            os.close(fd)
            try:
                args = ["run", path, "--report", report_path, "--log-format", "json"] + common + lock
                if p["force"]:
                    args.append("--force")
                rc, out, err = run_bpfpipe(module, bpfpipe, args)
                result.update(rc=rc, stderr=err)
                if rc != 0:
                    module.fail_json(msg=error_text(err), **result)
                with open(report_path) as f:
                    report = json.load(f)
            finally:
                os.unlink(report_path)
            result["report"] = report
            result["changed"] = bool(report.get("changed", True))
        else:
            args = ["down", path, "--json"] + lock
            if p["include_kept"]:
                args.append("--include-kept")
            if module.check_mode:
                args.append("--dry-run")
            rc, out, err = run_bpfpipe(module, bpfpipe, args)
            result.update(rc=rc, stderr=err)
            if rc != 0:
                module.fail_json(msg=error_text(err), **result)
            outcome = json.loads(out)
            result["removed"] = outcome["removed"]
            result["changed"] = bool(outcome["changed"])
    finally:
        if cleanup:
            os.unlink(cleanup)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
