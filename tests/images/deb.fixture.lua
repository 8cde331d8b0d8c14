-- A Debian guest with a file on its disk: the fixture carries the overlay with the memory.
local vm = provium:vm("deb", "debian"):boot()
vm:run("echo from-the-fixture > /root/fixture-file && sync"):assert_ok()
return vm:snapshot()
