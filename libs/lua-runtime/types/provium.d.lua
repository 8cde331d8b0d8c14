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
---@param timeout? Duration  default: wait until bytes arrive or the stream ends
---@return string|nil chunk nil at end of stream, after close once what was received is read, and when nothing arrived in time
function Stream:next(timeout) end
---@param delim string plain text
---@param timeout? Duration  default 10 s; raises when it passes
---@return string text up to and including delim
function Stream:read_until(delim, timeout) end
---@param pattern string plain text
---@param timeout? Duration  default 10 s; raises when it passes
---@return string text up to and including pattern
function Stream:expect(pattern, timeout) end
---@param timeout? Duration  default 0.5 s
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

---@alias RawBuf string|integer|{data?: string, size?: integer}  bytes, a size (zeros) or both
---@alias RawArg integer|string|boolean|File|{buf: integer}  a string is a pointer to a NUL-terminated copy; {buf = i} the address of bufs[i]
---@class SyscallTable
---@field args? RawArg[]  past six, ignored
---@field bufs? RawBuf[]
---@field ptrs? (integer|{buf: integer, offset: integer, target: integer})[]  an integer p at position i: bufs[i]'s address goes in argument slot p (0-based); a table: bufs[target]'s address at byte offset of bufs[buf]
---@field nested? {parent: integer, child: integer, offset: integer}[]  bufs[child]'s address at byte offset of bufs[parent] (1-based)

---Three forms: `(nr, a1, ..., a6)` (plain; past six, ignored), `(nr, {args, bufs, ptrs, nested})`,
---and `(nr, args, bufs, ptrs)` (the same as lists). A failed call returns ret -1 and its errno.
---Inside vm:batch the table form is refused. A worker's syscalls run in the worker's own process.
---@param nr integer
---@param args? RawArg|RawArg[]|SyscallTable
---@param bufs? RawArg|RawBuf[]
---@param ptrs? RawArg|{buf: integer, offset: integer, target: integer}[]
---@param ... RawArg  the plain form's further arguments
---@return SyscallResult
function Guest:syscall(nr, args, bufs, ptrs, ...) end
---@class PendingSyscall
local PendingSyscall = {}
---The result, as vm:syscall gives it; a second await raises.
---@return SyscallResult
function PendingSyscall:await() end
---vm:syscall's forms, sent without waiting: other ops go on meanwhile.
---@param nr integer
---@return PendingSyscall
function Guest:syscall_async(nr, ...) end
---Bytes of the agent's own memory (a worker's: its process's).
---@param addr integer
---@param len integer
---@return string|nil bytes  nil when the range is not mapped
---@return integer|nil errno  with nil
function Guest:read_mem(addr, len) end
---A failing ioctl raises with its errno ("... (ENOTTY)").
---@param fd integer|File  a descriptor of the agent (file:fd())
---@param cmd integer
---@param data? integer|RawBuf  the argument: a value, or the struct's bytes (passed by address)
---@param opts? {bufs?: RawBuf[], ptr_offsets?: integer[]}|{offset: integer, data: RawBuf}[]  buffers whose addresses go at byte offsets of data
---@return {result: integer, ret: integer, errno: integer, errno_name?: string, out_data?: string, out_bufs: string[]}
function Guest:ioctl(fd, cmd, data, opts) end

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
---@class BootFile
---@field path string  the guest path (relative ones are from /); missing parents are made; no "." or ".."
---@field content string  the file's bytes
---@field mode? integer  permission bits (default 0x1a4, i.e. 0644)

---@class BootOptions
---@field files? BootFile[]|table<string, string>  upstream's list {{path, content, mode}}, or guest path -> host path (relative: to the calling file); in place before the agent answers
---@field kernel_cmdline? string  replaces the profile's cmdline (Provium's own part stays)
---@field kernel_cmdline_append? string  appended to the command line (the whole must stay under 2048 bytes)
---@field rng_seed? string|integer  mixed into the guest's entropy pool before the agent starts (not credited)
---@field initial_time? number|string  the guest's wall clock at power-on: seconds since the epoch or "2030-01-01T00:00:00Z"
---@field agent_timeout? number|string  how long the agent may take to answer (default: the profile's agent_boot_timeout, else 90 s under TCG)
---@field disks? BootDisk[]  plugged in before boot() returns, after the profile's: vm:disk(id)

---@class BootDisk  exactly one of path, scratch, template
---@field path? string  a host image (relative: to the calling file): the guest's writes go to it; never created
---@field scratch? integer|string  a new blank disk of this size (bytes or "1M") in the VM's run dir
---@field template? string  a host image copied into the VM's run dir: the template stays as it was
---@field id? string  default boot0, boot1, ... (its position, from 0)
---@field readonly? boolean
---@field qemu_args? string[]  appended to QEMU's command line after the profile's qemu_args (unsupported territory: unchecked, may break boots, snapshots and Provium's own devices)
---@field shares? table<string, string|ShareSpec>  guest mount point -> host directory (relative: to the calling file), mounted over virtio-9p before the agent answers; the kernel needs CONFIG_9P_FS and CONFIG_NET_9P_VIRTIO

---@class ShareSpec
---@field path string        the host directory (relative: to the calling file)
---@field readonly? boolean  the guest can only read it (writes fail with EROFS)
---@field cold? boolean  boot from power-on even when the VM's shape has a boot template (a warm boot restores it: see docs/snapshots-and-fixtures.md)

---@param opts? BootOptions
---@return VM
function VM:boot(opts) end
function VM:shutdown() end
--- Shuts down (upstream's closer): idempotent; a VM never booted becomes "shutdown".
function VM:close() end
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
---@return Console  a handle that holds nothing (never blocks a snapshot); also for a VM not booted yet
function VM:console() end
---@return Clock
function VM:clock() end
---@class DiskSpec
---@field image? string  a host file (relative: to the calling file; also `path`): the disk, its size the disk's
---@field path? string  the same as image
---@field scratch? integer|string  a new disk ("64M") in the VM's run dir: the host reads and writes its sectors
---@field size? integer|string  without image or scratch: a blank disk with no backing image for the host's sector ops (default 4G); with image, ignored
---@field id? string  default disk1, disk2, ...
---@field readonly? boolean

---@param spec? DiskSpec
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
---@param bridge Bridge|string  a bridge it is attached to, its name, or "ethN": its N-th NIC, its bridges counted by name (the guest's own ethN)
---@return Nic
function VM:nic(bridge) end
---@param bridge? Bridge|string  default: its first bridge
---@return string|nil  its IPv4 address there ("10.0.1.2"); nil when on no bridge
function VM:ip(bridge) end
---QEMU's human monitor (HMP) through QMP's human-monitor-command, e.g. "info registers", "info mtree".
---@param command string
---@return string  the monitor's text answer
function VM:monitor(command) end

---@class Console  the VM's serial console (ttyS0), both ways
local Console = {}
---@return Stream  what the guest prints from now on; an open stream (a snapshot refuses while it is)
function Console:read() end
---@return string  everything since QEMU started (raw bytes, \r\n line ends)
function Console:read_log() end
---@param data string
---@param opts? {timeout?: number|string}
---@return Console
function Console:write(data, opts) end
---@param pattern string  a plain substring
---@param timeout? number|string  default 30 s; raises naming the pattern when it passes
---@return string  pattern, once it is anywhere in what the console printed since QEMU started
function Console:expect(pattern, timeout) end
--- Nothing to release (upstream's no-op); the handle stays usable.
function Console:close() end

---@class Clock  the guest's wall clock (CLOCK_REALTIME)
local Clock = {}
---@return number  seconds since the epoch
function Clock:get() end
---@return integer  ns since the epoch
function Clock:get_ns() end
---@param t number  seconds since the epoch (finite; before 1970 the guest refuses it: EINVAL)
---@return Clock
function Clock:set(t) end
---@param ns integer
---@return Clock
function Clock:set_ns(ns) end
---@param d number|string  a duration (seconds or "5s"); negative moves the clock back (-5, "-5s")
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
---@return integer  bytes as the guest sees them now (an image's file may grow); after detach, the last known
function Disk:size() end
---Raises without a backing image (attach_disk({size})), once detached, and with EIO under eio_read.
---@param lba integer
---@param count integer  512-byte sectors
---@return string
function Disk:read_sectors(lba, count) end
---Raises as read_sectors does (EIO under eio_write).
---@param lba integer
---@param data string  written from the start of sector lba (whole sectors or a part of one)
---@return Disk
function Disk:write_sectors(lba, data) end
---Beside the faults in force; the guest's I/O and the host's sector ops both see them.
---@param kind "eio_read"|"eio_write"|"slow"
---@return Disk
function Disk:fault_inject(kind) end
---@return string[]  the faults in force, sorted
function Disk:active_faults() end
---@return Disk
function Disk:clear_faults() end
---@return boolean
function Disk:is_detached() end
function Disk:detach() end

---@class Task
local Task = {}
---@return any ...
function Task:join() end

---@class Lab
local Lab = {}
---@alias LabMember VM|Bridge|Lab

---@param name string  unique in this lab (another lab may have its own VM of that name)
---@param profile? string   omitted: look the VM up
---@param opts? {memory?: integer|string, cpus?: integer}  memory: bytes (an integer) or "320m", "512M", "2G"
---@return VM
function Lab:vm(name, profile, opts) end
---@param name? string  a sub-lab made inside a test leaves this lab when the test ends
---@return Lab
function Lab:lab(name) end
---@generic T: LabMember|LabMember[]
---@param x T  a VM, bridge or lab, or a list of them (all checked before any joins)
---@return T
function Lab:include(x) end
---@param x string|LabMember  leaves the lab (nothing is shut down); an unknown name is no error
function Lab:remove(x) end
---@return {kind: "vm"|"bridge"|"lab", name: string}[]  this lab's own members: VMs, then bridges, then sub-labs, each sorted
function Lab:members() end
---@return string[]  this lab's own bridges, sorted
function Lab:bridge_names() end
---@return string[]  this lab's own sub-labs, sorted
function Lab:sub_lab_names() end
---@return Lab
function Lab:boot() end
function Lab:shutdown() end
function Lab:pause() end
function Lab:resume() end
---@param dir? string  a host directory for the states and lab.json (relative: to the calling file's), kept after the file ends
---@return Snapshot|string snap  `dir` when given (upstream), else a Snapshot the file owns
function Lab:snapshot(dir) end
---@param snap Snapshot|string  a snapshot, or the directory of one written by lab:snapshot(dir)
function Lab:restore(snap) end
---@param want {memory?: integer|string, memory_bytes?: integer, cpus?: integer}  memory: bytes or "2G"; once a file ("one-shot")
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
--- A bridge of this file (a userspace switch on the host, no root). (name, opts) makes one
--- (opts may be {}); (name) finds one and raises "no bridge named ..." otherwise. Made inside
--- a test, it is released at the test's end. `lab.<name>` finds the bridges `lab` made.
---@param name string
---@param opts? {subnet?: string}  default subnet 10.0.N.0/24 for the file's N-th bridge
---@return Bridge
function Lab:bridge(name, opts) end

---@class NicCounters  from the guest's side
---@field rx_packets integer
---@field rx_bytes integer
---@field tx_packets integer
---@field tx_bytes integer
---@field errors integer   frames it sent the bridge refused (shorter than an Ethernet header, or too long)
---@field dropped integer  frames it sent that the bridge dropped (per destination), and frames for it it did not read

---@class Frame
---@field data string      the Ethernet frame
---@field from string      the VM (or "uplink") that sent it
---@field to string|nil    a NIC capture: the VM it was delivered to (nil: it is one the NIC sent)
---@field time number      seconds since the epoch

--- capture({frames = true}) (frame by frame) or capture({pcap = path}) (a file).
---@class Capture
local Capture = {}
---@param timeout? Duration  default 30 s; raises when no frame comes
---@return Frame|nil  nil once closed and read
function Capture:next(timeout) end
---@return Frame[]  what was captured so far
function Capture:drain() end
---@return string|nil  the pcap file, for capture({pcap = path})
function Capture:path() end
---@return integer  frames written to the pcap file, or (frames) dropped unread past 16 MiB
function Capture:close() end

---@alias CaptureOpts {pcap?: string, frames?: boolean}

---@class Nic  a member's NIC on a bridge
local Nic = {}
---@return string  the VM's (or member's) name
function Nic:vm_name() end
---@return string  the bridge's name
function Nic:bridge() end
---@return NicCounters  zeros for a name with no VM
function Nic:counters() end
--- No options: a Stream of pcap bytes (what `tcpdump -w -` on its interface writes). Raises
--- for a VM never booted ("no TAP ... not booted").
---@param opts? CaptureOpts
---@return Stream|Capture
function Nic:capture(opts) end
--- A running guest sees its link down (QMP set_link); returns once it does. A VM not running
--- (or a name) leaves the bridge, as detach.
function Nic:disconnect() end
function Nic:reconnect() end
---@return string|nil
function Nic:mac() end
---@return string|nil
function Nic:ip() end

---@alias Member VM|string  a VM, or a VM's name (a name with no VM is a member too: graph state)
---@alias Pair {from: Member, to: Member}

---@class Bridge
local Bridge = {}
---@return string
function Bridge:name() end
---@return string  "10.0.1.0/24"
function Bridge:subnet() end
---@return string[]  member names, sorted, each once
function Bridge:members() end
--- Every entry is checked before any is attached; VMs before they boot (a booted VM detached
--- from it is plugged back); a name of a VM in the lab attaches that VM.
---@param x Member|Member[]
---@return Bridge
function Bridge:attach(x) end
--- Also drops the member's partitions, isolation and one-way rules.
---@param x Member
---@return Bridge
function Bridge:detach(x) end
---@param x Member
---@return Bridge
function Bridge:isolate(x) end
---@param x Member
---@return Bridge
function Bridge:unisolate(x) end
---@param x Member
---@return boolean
function Bridge:is_isolated(x) end
--- (a, b): the pair, both ways (any names); ({from = a, to = b}): one way, attached members only.
---@param a Member|Pair
---@param b? Member
---@return Bridge
function Bridge:partition(a, b) end
---@param a Member|Pair
---@param b? Member
---@return Bridge
function Bridge:unpartition(a, b) end
--- The pair is cut both ways, or the whole bridge is (one-way partitions are not reported).
---@param a Member
---@param b Member
---@return boolean
function Bridge:is_partitioned(a, b) end
---@return Bridge
function Bridge:partition_all() end
--- Undoes partition_all only (pairs cut and isolation stay).
---@return Bridge
function Bridge:restore_all() end
--- No impairment and no partition; isolation, routes and the uplink stay.
---@return Bridge
function Bridge:reset() end
---@param v number|{from?: Member, to?: Member, ms: number, jitter?: number}  one-way delay, ms
---@return Bridge
function Bridge:add_latency(v) end
---@param v number|{from?: Member, to?: Member, p: number}  a percentage (more than 100 is 100)
---@return Bridge
function Bridge:drop_rate(v) end
---@param v number|{from?: Member, to?: Member, bps: number}  bits per second; 0 lifts it
---@return Bridge
function Bridge:bandwidth_limit(v) end
---@param v {from: Member, to: Member, ms: number, jitter?: number}
---@return Bridge
function Bridge:add_directional_latency(v) end
---@param v {from: Member, to: Member, p: number}
---@return Bridge
function Bridge:directional_drop_rate(v) end
---@return number  whole-bridge latency, ms (0: none)
function Bridge:latency_ms() end
---@return number  whole-bridge drop rate, percent
function Bridge:drop_rate_pct() end
---@return number  whole-bridge limit, bits per second (0: none)
function Bridge:bandwidth_bps() end
--- Records routes to other bridges (no frame is routed between bridges).
---@param x Bridge|string|(Bridge|string)[]
---@return Bridge
function Bridge:route(x) end
---@return string[]  sorted
function Bridge:routes() end
---@param x Member
---@return Nic
function Bridge:nic(x) end
--- No options: a Stream of pcap bytes (every frame entering the bridge, once).
---@param opts? CaptureOpts  pcap: a host file (relative: to the calling file's directory)
---@return Stream|Capture
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
---Adds a file or a string to the test's report (--html): a string naming a host file (relative: to the
---test file's directory) attaches the file, any other string itself; {path = ...} is always a file,
---{data = ...} always the bytes. Cut at 8 MiB.
---@param name string  the attachment's name in the report, e.g. "traffic.pcap"
---@param value string|{path?: string, data?: string}
function T:attach(name, value) end

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

---@class BenchOptions: TestMeta
---@field rounds? integer       measured rounds of b:time (default 10; with min_time: at least 5)
---@field min_time? Duration    b:time measures until this much time has passed
---@field warmup? integer       unmeasured runs of b:time's function first (default 1)
---@field better? "lower"|"higher"  which way is worse for `provium bench compare` (default "lower": times)

---@class Bench
---@field name string
---@field samples number[]     the samples so far
---@field unit string|nil
local Bench = {}
---Runs fn `warmup` times, then measures it (host clock, ms) `rounds` times or until `min_time`.
---@param fn fun()
---@return number[] samples
function Bench:time(fn) end
---One sample the test measured itself (e.g. parsed from a tool's output); one unit per benchmark.
---@param value number
---@param unit? string
function Bench:record(value, unit) end

---A test that measures: its samples go into the run's events and --bench-out.
---@param name string
---@param opts_or_fn BenchOptions|fun(b: Bench, t: TestContext)
---@param fn? fun(b: Bench, t: TestContext)
function bench(name, opts_or_fn, fn) end
---@param pred fun(): any
---@param opts? {timeout?: Duration, interval?: Duration, desc?: string}
function wait_until(pred, opts) end

json = {}
---@return string
function json.encode(v) end
function json.decode(s) end
json.null = {}
