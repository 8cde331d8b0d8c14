# The host <-> guest-agent protocol: the one place a wire type is written.
#
# Transport: one virtio-serial port per guest. Each frame is a little-endian u32 byte
# length followed by one unpacked Cap'n Proto message holding a Frame. Many requests are
# in flight at once on the one connection; a Response carries the id of its Request.
@0xf2321d97cb79fb14;

const protocolVersion :UInt32 = 1;

struct Frame {
  union {
    request @0 :Request;
    response @1 :Response;
  }
}

struct Request {
  id @0 :UInt32;
  # Namespace of the op: 0 is the agent's root, others are workers (spawnWorker).
  worker @1 :UInt32;
  op :union {
    hello @2 :Hello;
    exec @3 :Exec;
    batch @4 :List(Request);   # run in order, answered by one Response with a batch
    stats @5 :Void;
    streamRead @6 :StreamRead;
    streamClose @7 :UInt32;    # a stream handle; closing twice is fine
    files @8 :FileOp;          # guest files, tails and raw calls (their own union below)
    process @9 :ProcessOp;     # processes, workers (their own union below)
    clock @10 :ClockOp;        # the guest's wall clock
  }
}

struct Response {
  id @0 :UInt32;
  union {
    error @1 :Failure;
    hello @2 :HelloReply;
    exec @3 :ExecResult;
    batch @4 :List(Response);
    stats @5 :AgentStats;
    streamData @6 :StreamData;
    done @7 :Void;             # an op that has nothing to return
    files @8 :FileReply;
    process @9 :ProcessReply;
    clock @10 :ClockReply;
  }
}

# Why an op failed inside the guest. errno is 0 when the failure is not a syscall's.
struct Failure {
  message @0 :Text;
  errno @1 :Int32;
  errnoName @2 :Text;   # e.g. "ENOENT"
}

struct Hello {
  protocolVersion @0 :UInt32;
  # A guest restored from a boot template (a warm boot) is a clone: before it answers, the agent
  # credits these host bytes to the kernel's entropy pool (RNDADDENTROPY) and forces a reseed
  # of its CRNG (RNDRESEEDCRNG), so clones never share randomness. Empty: no reseed.
  entropy @1 :Data;
  # With entropy: the host's wall clock (ns since the epoch) when it sent this, set as the
  # guest's before it answers (a template's clock is the template's age behind).
  clockNs @2 :Int64;
}

struct HelloReply {
  protocolVersion @0 :UInt32;
  agentVersion @1 :Text;
  bootMs @2 :UInt32;     # guest uptime when the agent answered, for boot profiling
  reseeded @3 :Bool;     # the entropy was credited and the CRNG reseeded (see Hello)
}

struct EnvVar {
  name @0 :Text;
  value @1 :Text;
}

# Run a program to completion and capture its output.
struct Exec {
  argv @0 :List(Text);   # argv[0] is looked up in PATH
  env @1 :List(EnvVar);
  envClear @2 :Bool;     # only `env` is passed, not the agent's own environment
  cwd @3 :Text;          # "" = the agent's cwd
  stdin @4 :Data;
  timeoutMs @5 :UInt32;  # 0 = none; on expiry the agent kills the process group
}

struct ExecResult {
  exitCode @0 :Int32;    # meaningful when neither signal nor timedOut
  signal @1 :UInt8;      # 0 = not killed by a signal
  timedOut @2 :Bool;
  stdout @3 :Data;
  stderr @4 :Data;
  # Output too large for one reply stays in the agent as a stream (a handle, 0 = none):
  # the host reads it to the end, then closes it. stdout/stderr are then empty.
  stdoutRest @5 :UInt32;
  stderrRest @6 :UInt32;
}

struct AgentStats {
  requests @0 :UInt64;   # requests received, a batch counting once
}

# Streams are byte sources inside the agent (process output, file tails, ...), buffered from
# the moment they exist so nothing is lost before the host reads. The host long-polls.
struct StreamRead {
  handle @0 :UInt32;
  maxBytes @1 :UInt32;   # at most this many bytes in one reply (0 = agent default)
  timeoutMs @2 :UInt32;  # answer with no data (and eof false) when nothing arrives in time
}

struct StreamData {
  data @0 :Data;
  eof @1 :Bool;          # no more data will ever come (after `data`)
}

# Guest files, tails and raw calls: one family, so its ops live in one struct of their own.
# Paths are the guest's; handles name resources in the request's namespace.
struct FileOp {
  union {
    readFile @0 :ReadFile;     # -> data
    writeFile @1 :WriteFile;   # -> done
    stat @2 :StatPath;         # -> stat
    listdir @3 :Text;          # -> entries
    mkdir @4 :Mkdir;           # -> done
    unlink @5 :Text;           # a file, a symlink or an empty directory -> done
    rename @6 :Rename;         # -> done
    open @7 :Open;             # -> opened
    read @8 :HandleRead;       # -> data
    write @9 :HandleWrite;     # -> count
    seek @10 :Seek;            # -> offset
    close @11 :UInt32;         # a file handle; closing twice is fine -> done
    tail @12 :Tail;            # -> stream
    fdStream @13 :Int32;       # a file descriptor of the agent process -> stream
    syscall @14 :RawCall;      # -> raw
    ioctl @15 :RawCall;        # args: fd, request, argument -> raw
    readMem @16 :ReadMem;      # the memory of the process that runs the namespace's raw calls -> raw
  }
}

struct FileReply {
  union {
    data @0 :FileData;
    stat @1 :Stat;
    entries @2 :List(DirEntry);
    opened @3 :Opened;
    count @4 :UInt64;          # bytes written
    offset @5 :Int64;          # the file offset after a seek
    stream @6 :UInt32;         # a stream handle (see StreamRead)
    raw @7 :RawResult;
  }
}

# A whole file is read in pieces when it is large: each request reads from `offset`.
struct ReadFile {
  path @0 :Text;
  offset @1 :UInt64;
  maxBytes @2 :UInt32;       # 0 = the agent's default cap
  refuseOver @3 :UInt64;     # > 0: a regular file larger than this is not read (no data; `size` says why)
}

struct FileData {
  data @0 :Data;
  eof @1 :Bool;              # nothing follows `data` (now)
  size @2 :UInt64;           # st_size when the file was read (0 for pipes, /proc, ...)
}

# offset 0 creates or truncates the file and writes `data`; a later piece (offset > 0)
# writes into the existing file at `offset`.
struct WriteFile {
  path @0 :Text;
  data @1 :Data;
  offset @2 :UInt64;
}

struct StatPath {
  path @0 :Text;
  follow @1 :Bool;           # stat the symlink's target instead of the link
}

enum EntryType {
  other @0;
  file @1;
  directory @2;
  symlink @3;
  fifo @4;
  socket @5;
  blockDevice @6;
  charDevice @7;
}

struct Stat {
  size @0 :UInt64;
  mtimeNs @1 :Int64;         # nanoseconds since the epoch
  perm @2 :UInt32;           # st_mode & 0o7777
  type @3 :EntryType;
  uid @4 :UInt32;
  gid @5 :UInt32;
  nlink @6 :UInt64;
  ino @7 :UInt64;
}

struct DirEntry {
  name @0 :Text;
  type @1 :EntryType;
}

struct Mkdir {
  path @0 :Text;
  parents @1 :Bool;
  perm @2 :UInt32;           # with hasPerm: the exact mode of the new directory
  hasPerm @3 :Bool;          # else 0o777 less the umask
}

struct Rename {
  from @0 :Text;
  to @1 :Text;
}

struct Open {
  path @0 :Text;
  read @1 :Bool;
  write @2 :Bool;
  create @3 :Bool;
  truncate @4 :Bool;
  append @5 :Bool;
  exclusive @6 :Bool;
  perm @7 :UInt32;           # with hasPerm: the exact mode of a file this open creates
  hasPerm @8 :Bool;          # else 0o666 less the umask
}

struct Opened {
  handle @0 :UInt32;
  fd @1 :Int32;              # the descriptor inside the agent (for syscall/ioctl)
}

struct HandleRead {
  handle @0 :UInt32;
  maxBytes @1 :UInt32;
  toEof @2 :Bool;            # keep reading until end of file (or the agent's cap)
}

struct HandleWrite {
  handle @0 :UInt32;
  data @1 :Data;
}

struct Seek {
  handle @0 :UInt32;
  offset @1 :Int64;
  whence @2 :UInt8;          # 0 set, 1 cur, 2 end
}

# Bytes appended to a file, as a stream: from byte `start`, or with `fromEnd` from `start`
# bytes before its end now (0: only what is appended; clamped at byte 0).
# (No non-zero defaults in this schema: capnp-es mishandles them.)
struct Tail {
  path @0 :Text;
  fromEnd @1 :Bool;
  start @2 :UInt64;
}

# A raw call through libc. Buffers live in the agent for the call; an argument is a value
# or the address of a buffer; `ptrs` write buffer addresses into other buffers (structs
# that point at buffers). Every buffer comes back as it is after the call.
struct RawCall {
  nr @0 :Int64;              # the syscall number (unused by ioctl)
  args @1 :List(RawArg);
  bufs @2 :List(RawBuf);
  ptrs @3 :List(RawPtr);
  # The caller does not wait for it (syscall_async): a worker's process runs it on a thread
  # of its own, so the worker's other calls go on meanwhile.
  async @4 :Bool;
}

# bufs[0] of the reply holds the bytes; result is their count, or -1 with errno (an address
# not mapped, or not readable).
struct ReadMem {
  addr @0 :UInt64;
  len @1 :UInt32;
}

struct RawArg {
  union {
    value @0 :Int64;
    buf @1 :UInt32;          # index into bufs
  }
}

struct RawBuf {
  data @0 :Data;
  size @1 :UInt32;           # at least this many bytes: data is zero-padded to it
}

struct RawPtr {
  buf @0 :UInt32;            # the buffer to write into
  offset @1 :UInt32;         # at this byte offset, as a native 64-bit pointer
  target @2 :UInt32;         # the address of this buffer
}

struct RawResult {
  result @0 :Int64;
  errno @1 :Int32;           # 0 unless the call failed
  errnoName @2 :Text;
  bufs @3 :List(RawBuf);     # data only
}

# Processes and workers: one family, so its ops live in one struct of their own.
# A process is a resource in the request's namespace (its handle); a worker is a namespace
# of its own (Request.worker): workerKill/workerJoin/workerClose act on the request's worker.
struct ProcessOp {
  union {
    spawn @0 :Exec;              # start without waiting (timeoutMs must be 0) -> spawned
    signal @1 :ProcessSignal;    # to the process group -> delivered
    pid @2 :UInt32;              # a process handle -> pid (0 once it has exited)
    status @3 :UInt32;           # a process handle -> status
    wait @4 :ProcessWait;        # -> waited
    stdinWrite @5 :StdinWrite;   # -> done
    closeStdin @6 :UInt32;       # a process handle -> done
    openStream @7 :OpenStream;   # the process's stdout or stderr as a stream -> stream
    close @8 :UInt32;            # kill (SIGKILL) if running, reap, release -> done
    spawnWorker @9 :Void;        # a new namespace -> worker
    workerKill @10 :UInt8;       # a signal to every running process of the worker -> count
    workerJoin @11 :UInt32;      # wait (timeout ms, 0 = none) for the worker's processes -> joined
    workerClose @12 :Void;       # terminate, join and drop the worker -> joined
    census @13 :Void;            # what the agent holds, for tests -> census
  }
}

struct ProcessReply {
  union {
    spawned @0 :Spawned;
    delivered @1 :Bool;          # false: the process had already exited
    pid @2 :UInt32;
    status @3 :ProcessStatus;
    waited @4 :Waited;
    stream @5 :UInt32;           # a stream handle (see StreamRead)
    worker @6 :UInt32;           # the new worker's namespace id
    count @7 :UInt32;
    joined @8 :Joined;
    census @9 :Census;
    done @10 :Void;
  }
}

struct Spawned {
  handle @0 :UInt32;
  pid @1 :UInt32;
}

struct ProcessSignal {
  handle @0 :UInt32;
  signal @1 :UInt8;
}

struct ProcessStatus {
  running @0 :Bool;
}

struct ProcessWait {
  handle @0 :UInt32;
  timeoutMs @1 :UInt32;          # 0 = no limit
}

# exited false: the timeout passed first; the process keeps running.
struct Waited {
  exited @0 :Bool;
  result @1 :ExecResult;         # output not taken by an opened stream
}

struct StdinWrite {
  handle @0 :UInt32;
  data @1 :Data;
}

struct OpenStream {
  handle @0 :UInt32;
  stderr @1 :Bool;               # false: stdout
}

struct Joined {
  done @0 :Bool;                 # false: the timeout passed with processes still running
  worst @1 :Int32;               # the worst exit code of the reaped processes (-1 signalled, -2 timed out)
  reaped @2 :UInt32;
  running @3 :UInt32;
}

struct Census {
  processes @0 :UInt32;          # live process resources, all namespaces
  streams @1 :UInt32;
  workers @2 :UInt32;            # namespaces other than the root
}

# The guest's wall clock (CLOCK_REALTIME; the monotonic clocks never move). Host-side QEMU can't
# set a running guest's time under TCG, so the agent calls clock_settime(2) itself.
struct ClockOp {
  union {
    get @0 :Void;
    set @1 :Int64;               # ns since the epoch
    advance @2 :Int64;           # ns added to the guest's time, read and set in the guest in one op
  }
}

struct ClockReply {
  nowNs @0 :Int64;               # CLOCK_REALTIME after the op, ns since the epoch
}
