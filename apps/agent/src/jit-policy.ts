// The agent's executable starts with JavaScriptCore's tier-up thresholds scaled up
// (`--compile-jit-policy`, libs/vmm/src/image/agent-binary.ts): code that runs once at start-up
// (module bodies, tables, the port set-up) stays in the interpreter instead of sending the JIT
// compilers, whose own code TCG translates anew at every boot, to work. Each thread (the main
// one, the port reader) sets the normal policy back once its start-up is over, so the paths that
// serve requests compile as they always did.
export function startupOver() {
  Bun.unsafe.setJITPolicy(1);
}
