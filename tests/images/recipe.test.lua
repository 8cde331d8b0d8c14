-- A recipe from provium.toml: [profiles.debian-jq] base = "debian", packages = ["jq"].
-- It has its own package and everything its base has.
local vm = provium:vm("jq", "debian-jq"):boot()

test("a recipe's extra package is installed, on top of its base's", function(t)
  local r = vm:run("jq -c .a", {stdin = '{"a": [1, 2]}'})
  r:assert_ok()
  t:assert_eq(r.stdout, "[1,2]\n")
  t:assert_eq(vm:run("python3 -c 'print(6*7)'"):assert_ok().stdout, "42\n")
  t:assert_contains(vm:run("dpkg-query -W -f '${Status}' jq"):assert_ok().stdout, "install ok installed")
end)
