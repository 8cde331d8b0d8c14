---@meta provium
-- Lua language-server definitions for the Provium API (written by `provium lsp-setup`).

---@alias Duration number|string  seconds, or "500ms", "5s", "5m", "2h"
---@alias Signal integer|"term"|"kill"|"int"|"hup"|"quit"|"stop"|"cont"|"usr1"|"usr2"|"alrm"|"pipe"|"chld"|"winch"

---@class RunOptions
---@field args? string[]      direct exec: argv after the command (no shell)
---@field env? table<string,string>
---@field env_clear? boolean  the guest sees only `env`
---@field cwd? string
---@field stdin? string
---@field timeout? Duration   vm:run only
---@field timeout_ms? integer vm:run only

---@class RunResult
---@field exit_code integer   -1 when signalled, -2 when timed out
---@field stdout string       bytes
---@field stderr string       bytes
---@field status "exited"|"signalled"|"timed_out"
---@field signal integer|nil
---@field timed_out boolean
local RunResult = {}
---@return boolean
function RunResult:ok() end
---@param msg? string
---@return RunResult
function RunResult:assert_ok(msg) end

---@class Stream
local Stream = {}
---@param timeout? Duration
---@return string|nil chunk nil at end of stream (and after close, once what was received is read)
function Stream:next(timeout) end
---@param delim string plain text
---@param timeout? Duration
---@return string text up to and including delim
function Stream:read_until(delim, timeout) end
---@param pattern string plain text
---@param timeout? Duration
---@return string
function Stream:expect(pattern, timeout) end
---@param timeout? Duration
---@return string[] chunks everything until end of stream or the timeout, in arrival order
function Stream:drain(timeout) end
---@return boolean eof true once the source ended and all was read, or after close
function Stream:eof() end
--- Idempotent; what was received stays readable. A process's stream: the process runs on.
function Stream:close() end

---@class Process
local Process = {}
---@param sig? Signal
function Process:kill(sig) end
---@param sig Signal
function Process:signal(sig) end
---@return integer
function Process:pid() end
---@return integer
function Process:handle() end
---@return "running"|"exited"
function Process:status() end
--- When the timeout passes the process group is SIGKILLed and the result is timed out
--- (`timed_out`, status "timed_out", exit_code -2). Not 0 (use status()); only once.
---@param timeout? Duration
---@return RunResult
function Process:wait(timeout) end
---@param data string
function Process:stdin_write(data) end
function Process:close_stdin() end
---@return Stream
function Process:stdout_stream() end
---@return Stream
function Process:stderr_stream() end
function Process:close() end

---@class FileMode
---@field read? boolean
---@field write? boolean
---@field create? boolean
---@field truncate? boolean
---@field append? boolean
---@field exclusive? boolean
---@field perm? integer

---@class File
local File = {}
---@param n integer
---@return string
function File:read(n) end
---@return string
function File:read_all() end
---@param data string
---@return integer written
function File:write(data) end
---@param offset integer
---@param whence? "set"|"cur"|"end"
---@return integer
function File:seek(offset, whence) end
---@return integer
function File:tell() end
---@return integer
function File:fd() end
---@return Stream
function File:tail_stream() end
function File:close() end

---@class Stat
---@field size integer
---@field mtime number
---@field mtime_ns integer
---@field perm integer
---@field entry_type "file"|"directory"|"symlink"|"fifo"|"socket"|"block_device"|"char_device"|"other"

---@class Guest  operations shared by VMs and workers
local Guest = {}
---@param cmd string
---@param opts? RunOptions|string[]
---@return RunResult
function Guest:run(cmd, opts) end
---@param cmd string
---@param opts? RunOptions|string[]
---@return Process
function Guest:run_async(cmd, opts) end
---@param path string
---@return string
function Guest:read_file(path) end
---@param path string
---@param data string
function Guest:write_file(path, data) end
---@param host_path string
---@param guest_path string
---@param opts? {auto_dep?: boolean}
function Guest:push_file(host_path, guest_path, opts) end
---@param path string
---@return Stat
function Guest:stat(path) end
---@param path string
---@return {name: string, entry_type: string}[]
function Guest:listdir(path) end
---@param path string
---@param opts? {parents?: boolean, perm?: integer}
function Guest:mkdir(path, opts) end
---@param path string
function Guest:unlink(path) end
---@param from string
---@param to string
function Guest:rename(from, to) end
---@param path string
---@param mode FileMode
---@return File
function Guest:open_file(path, mode) end
---@param path string
---@param opts? {start?: "end"|"beginning"|"start"|integer} a negative start counts back from the end
---@return Stream
function Guest:tail_file(path, opts) end
---@param fd_or_file integer|File
---@return Stream
function Guest:fd_stream(fd_or_file) end
---@class SyscallResult
---@field ret integer      -1 on failure (an unknown number too: errno ENOSYS)
---@field result integer   the same as ret
---@field errno integer
---@field errno_name? string
---@field out_bufs string[] the buffers after the call

---@param nr integer
---@param args? (integer|string|File|{buf: integer})[]|{args?: table, bufs?: table, ptrs?: table}  the list, or the table form; past six, ignored
---@param bufs? (string|integer|{data?: string, size?: integer})[]
---@param ptrs? {buf: integer, offset: integer, target: integer}[]
---@return SyscallResult
function Guest:syscall(nr, args, bufs, ptrs) end
---@return {result: integer, ret: integer, errno: integer, errno_name?: string, out_data?: string, out_bufs: string[]}
function Guest:ioctl(fd, cmd, data, ptrs) end

---@class Worker: Guest
local Worker = {}
---@param sig? Signal
function Worker:kill(sig) end
--- Once: a second join, and new work (run, run_async, ...) after it, raise.
---@param timeout? Duration
---@return integer worst exit code of its children
function Worker:join(timeout) end
---@return integer
function Worker:handle() end
function Worker:close() end

---@class Snapshot
local Snapshot = {}
---@return integer bytes
function Snapshot:size() end
---@return string where its state lives on the host: a VM's file, a lab's directory (with lab.json)
function Snapshot:path() end
function Snapshot:delete() end

---@class VM: Guest
local VM = {}
---@return string
function VM:name() end
---@return string
function VM:profile() end
---@return integer|nil cid  >= 3, unique in the run; nil before boot
function VM:cid() end
---@return integer
function VM:open_file_count() end
---@return integer
function VM:open_stream_count() end
---@return boolean  no open files, streams, or processes the test has not waited for or closed
function VM:is_quiescent() end
---@class BootOptions
---@field files? table<string, string>  guest path -> host path (relative: to the calling file), in place before the agent answers
---@field kernel_cmdline? string  replaces the profile's cmdline (Provium's own part stays)
---@field kernel_cmdline_append? string  appended to the command line (the whole must stay under 2048 bytes)
---@field rng_seed? string|integer  mixed into the guest's entropy pool before the agent starts (not credited)
---@field initial_time? number|string  the guest's wall clock at power-on: seconds since the epoch or "2030-01-01T00:00:00Z"
---@field agent_timeout? number|string  how long the agent may take to answer (default: the profile's agent_boot_timeout, else 90 s under TCG)
---@field cold? boolean  boot from power-on even when the VM's shape has a boot template (a warm boot restores it: see docs/snapshots-and-fixtures.md)

---@param opts? BootOptions
---@return VM
function VM:boot(opts) end
function VM:shutdown() end
---@return VM
function VM:pause() end
---@return VM
function VM:resume() end
---@param path? string  a host file (relative: to the calling file's directory), kept after the file ends
---@return Snapshot
function VM:snapshot(path) end
---@param snap Snapshot
---@return VM
function VM:restore(snap) end
---@return "created"|"booted"|"paused"|"shutdown"|"dead"  dead: the guest powered itself off, panicked or rebooted itself
function VM:state() end
---How its boot went: "warm" restored its shape's boot template, "cold" booted from power-on; nil before boot.
---@return "warm"|"cold"|nil
function VM:boot_kind() end
---Reboots the guest in place (a new boot_id; attached disks stay); returns once its agent answers.
---@return VM
function VM:reset() end
---Presses the ACPI power button; returns once the guest powered off (state "shutdown").
---@param timeout? number|string  default 30 s
---@return VM
function VM:power_button(timeout) end
---@return Console  expect() sees what the guest prints from this call on
function VM:console() end
---@return Clock
function VM:clock() end
---@param spec {size?: integer|string, path?: string, readonly?: boolean, id?: string}  size ("64M") for a new empty disk, or path of a host image
---@return Disk  once the guest sees it
function VM:attach_disk(spec) end
---@param id string
---@return Disk
function VM:disk(id) end
---@return Worker
function VM:spawn_worker(opts) end
---@param fn fun(b: Guest)
---@return {ok: any, err: string}[]
function VM:batch(fn) end
---@param bridge Bridge|string  a bridge it is attached to, or its name
---@return Nic
function VM:nic(bridge) end
---@param bridge? Bridge|string  default: its first bridge
---@return string|nil  its IPv4 address there ("10.0.1.2"); nil when on no bridge
function VM:ip(bridge) end

---@class Console  the VM's serial console (ttyS0), both ways
local Console = {}
---@return Stream  what the guest prints from now on
function Console:read() end
---@return string  everything since QEMU started (raw bytes, \r\n line ends)
function Console:read_log() end
---@param data string
---@param opts? {timeout?: number|string}
---@return Console
function Console:write(data, opts) end
---@param pattern string  a plain substring
---@param timeout? number|string  default 30 s
---@return string  the output up to and including pattern
function Console:expect(pattern, timeout) end
function Console:close() end

---@class Clock  the guest's wall clock (CLOCK_REALTIME)
local Clock = {}
---@return number  seconds since the epoch
function Clock:get() end
---@return integer  ns since the epoch
function Clock:get_ns() end
---@param t number  seconds since the epoch
---@return Clock
function Clock:set(t) end
---@param ns integer
---@return Clock
function Clock:set_ns(ns) end
---@param d number|string  a duration (seconds or "5s"), not negative
---@return Clock
function Clock:advance(d) end
---@param d number|string
---@return Clock
function Clock:sleep(d) end

---@class Disk  a disk plugged into a running VM
local Disk = {}
---@return string
function Disk:id() end
---@return string  its /dev path in the guest
function Disk:device() end
---@return integer  bytes
function Disk:size() end
---@param lba integer
---@param count integer  512-byte sectors
---@return string
function Disk:read_sectors(lba, count) end
---@param lba integer
---@param data string  whole 512-byte sectors
---@return Disk
function Disk:write_sectors(lba, data) end
---@param kind "eio_read"|"eio_write"|"slow"
---@return Disk
function Disk:fault_inject(kind) end
---@return Disk
function Disk:clear_faults() end
function Disk:detach() end

---@class Task
local Task = {}
---@return any ...
function Task:join() end

---@class Lab
local Lab = {}
---@param name string
---@param profile? string   omitted: look the VM up
---@param opts? {memory?: integer|string, cpus?: integer}
---@return VM
function Lab:vm(name, profile, opts) end
---@return Lab
function Lab:lab(name) end
function Lab:include(x) end
function Lab:remove(x) end
---@return (VM|Lab)[]
function Lab:members() end
---@return Lab
function Lab:boot() end
function Lab:shutdown() end
function Lab:pause() end
function Lab:resume() end
---@param dir? string  a host directory for the states and lab.json (relative: to the calling file's), kept after the file ends
---@return Snapshot
function Lab:snapshot(dir) end
---@param snap Snapshot|string  a snapshot, or the directory of one written by lab:snapshot(dir)
function Lab:restore(snap) end
---@param want {memory?: integer|string, cpus?: integer}
function Lab:claim(want) end
---@param name string
---@param count integer
---@param timeout? Duration  default 60 s
---@return boolean met  false when the timeout passed first
function Lab:barrier(name, count, timeout) end
---@return string
function Lab:name() end
---@return string[]  the lab's VMs (its sub-labs' too), sorted
function Lab:vm_names() end
---@param fmt string  string.pack's format
---@return string
function Lab:pack(fmt, ...) end
---@param fmt string
---@param bytes string
---@param pos? integer
---@return any ...  the values, then the position after them
function Lab:unpack(fmt, bytes, pos) end
---@param fn function
---@return Task
function Lab:spawn(fn, ...) end
---@param name string "dir/name" of a *.fixture.lua
---@return VM
function Lab:vm_fixture(name) end
---@param name string
---@return Lab
function Lab:lab_fixture(name) end
---@param path string
function Lab:depends_on_file(path) end
--- A bridge of this file (a userspace switch on the host, no root): made on first use, found by name after.
---@param name string
---@param opts? {subnet?: string}  default subnet 10.0.N.0/24 for the file's N-th bridge
---@return Bridge
function Lab:bridge(name, opts) end

---@class NicCounters  from the guest's side
---@field rx_packets integer
---@field rx_bytes integer
---@field tx_packets integer
---@field tx_bytes integer
---@field dropped integer  frames it sent that the bridge dropped (per destination), and frames for it it did not read

---@class Frame
---@field data string      the Ethernet frame
---@field from string      the VM (or "uplink") that sent it
---@field to string|nil    a NIC capture: the VM it was delivered to (nil: it is one the NIC sent)
---@field time number      seconds since the epoch

---@class Capture
local Capture = {}
---@param timeout? Duration  default 30 s; raises when no frame comes
---@return Frame|nil  nil once closed and read
function Capture:next(timeout) end
---@return Frame[]  what was captured so far
function Capture:drain() end
---@return string|nil  the pcap file, for capture({pcap = path})
function Capture:path() end
---@return integer  frames written to the pcap file, or (a stream) dropped unread past 16 MiB
function Capture:close() end

---@class Nic
local Nic = {}
---@return NicCounters
function Nic:counters() end
---@param opts? {pcap?: string}
---@return Capture  what this NIC sent and was delivered
function Nic:capture(opts) end
--- The guest sees its link down (QMP set_link); returns once it does.
function Nic:disconnect() end
function Nic:reconnect() end
---@return string
function Nic:mac() end
---@return string
function Nic:ip() end

---@alias Pair {from: VM, to: VM}

---@class Bridge
local Bridge = {}
---@return string
function Bridge:name() end
---@return string  "10.0.1.0/24"
function Bridge:subnet() end
---@return VM[]
function Bridge:members() end
---@param vms VM|VM[]  before they boot; a booted VM detached from it is plugged back
---@return Bridge
function Bridge:attach(vms) end
---@return Bridge
function Bridge:detach(vm) end
---@return Bridge
function Bridge:isolate(vm) end
---@return Bridge
function Bridge:unisolate(vm) end
--- (a, b): both ways; ({from = a, to = b}): one way.
---@param a VM|Pair
---@param b? VM
---@return Bridge
function Bridge:partition(a, b) end
---@param a VM|Pair
---@param b? VM
---@return Bridge
function Bridge:unpartition(a, b) end
---@return Bridge
function Bridge:partition_all() end
--- Lifts every partition and isolation (impairments stay).
---@return Bridge
function Bridge:restore_all() end
--- No partition, isolation or impairment.
---@return Bridge
function Bridge:reset() end
---@param v number|{from?: VM, to?: VM, ms: number, jitter?: number}  one-way delay, ms
---@return Bridge
function Bridge:add_latency(v) end
---@param v number|{from?: VM, to?: VM, p: number}  a probability (0-1); above 1, a percentage
---@return Bridge
function Bridge:drop_rate(v) end
---@param v number|{from?: VM, to?: VM, bps: number}  bits per second; 0 lifts it
---@return Bridge
function Bridge:bandwidth_limit(v) end
---@param opts? {pcap?: string}  a host file (relative: to the calling file's directory)
---@return Capture  every frame entering the bridge
function Bridge:capture(opts) end
function Bridge:enable_uplink() end
function Bridge:disable_uplink() end
---@return string  the uplink's gateway address
function Bridge:gateway() end

---@class Provium: Lab
---@field timeout? Duration              per-file timeout (default 5m)
---@field reset_between_tests? boolean   restore the top level's snapshot before each test
provium = {}

---@class TestContext
---@field name string
---@field meta table
local T = {}
function T:assert(cond, msg) end
function T:assert_eq(actual, expected, msg) end
function T:assert_neq(actual, unexpected, msg) end
function T:assert_contains(haystack, needle, msg) end
---@return any err
function T:assert_raises(fn, msg) end
function T:fail(msg) end
function T:skip(reason) end
function T:log(msg) end

---@class TestMeta
---@field tags? string|string[]   --tag / --no-tag select on these
---@field skip? string|boolean    a reason: reported as skipped, never run
---@field slow? boolean           skipped unless --include-slow
---@field timeout? Duration

---@param name string
---@param meta_or_fn TestMeta|fun(t: TestContext)
---@param fn? fun(t: TestContext)
function test(name, meta_or_fn, fn) end
---@param reason string
function todo(reason) end
---@param pred fun(): any
---@param opts? {timeout?: Duration, interval?: Duration, desc?: string}
function wait_until(pred, opts) end

json = {}
---@return string
function json.encode(v) end
function json.decode(s) end
json.null = {}
