// Runs the portable tests (host_tests/portable) under the MicroPython project's
// WebAssembly port from npm: copies lib/ and the tests into the port's in-memory file
// system, then runs host_tests/mp_run.py there. Exit status 1 on any failure.
//   node host_tests/run_micropython.mjs [test_module ...]
//   node host_tests/run_micropython.mjs --exec FILE.py   (run a script, e.g. the bench)
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function copyTree(mp, src, dest) {
  mp.FS.mkdirTree(dest);
  for (const entry of fs.readdirSync(src, { withFileTypes: true })) {
    const from = path.join(src, entry.name);
    const to = dest + "/" + entry.name;
    if (entry.isDirectory()) {
      if (entry.name !== "__pycache__") copyTree(mp, from, to);
    } else if (entry.name.endsWith(".py")) {
      mp.FS.writeFile(to, fs.readFileSync(from));
    }
  }
}

const args = process.argv.slice(2);
const mp = await loadMicroPython({
  heapsize: 8 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
copyTree(mp, path.join(root, "lib"), "/lib");
// the firmware modules that need no hardware, network or Microdot, for test_firmware_parts
for (const f of ["firmware/ucm_config.py", "firmware/ucm_config_check.py", "firmware/ucm_heap.py", "firmware/ucm_metrics.py", "firmware/ucm_supervisor.py", "boards/common/ucm_rs485.py"]) {
  mp.FS.writeFile("/lib/" + path.basename(f), fs.readFileSync(path.join(root, f)));
}
copyTree(mp, path.join(root, "host_tests", "portable"), "/tests");
mp.FS.writeFile("/tests/mp_run.py", fs.readFileSync(path.join(root, "host_tests", "mp_run.py")));

let status = 0;
try {
  if (args[0] === "--exec") {
    mp.runPython("import sys\nsys.path.append('/tests')\n" + fs.readFileSync(args[1], "utf8"));
  } else {
    const only = args.length ? JSON.stringify(args) : "None";
    mp.runPython(`import sys\nsys.path.append('/tests')\nimport mp_run\n_failed = mp_run.main('/tests', ${only})`);
    status = mp.globals.get("_failed") ? 1 : 0;
  }
} catch (err) {
  process.stderr.write(String(err) + "\n");
  status = 1;
}
process.exit(status);
