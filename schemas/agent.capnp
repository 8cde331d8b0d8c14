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
}

struct HelloReply {
  protocolVersion @0 :UInt32;
  agentVersion @1 :Text;
  bootMs @2 :UInt32;     # guest uptime when the agent answered, for boot profiling
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
