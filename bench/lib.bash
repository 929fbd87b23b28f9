# Helpers shared by the bench/*.sh scripts (sourced, not run; bench/run runs
# only *.sh).

# wrk_post_lua BODY LUA: writes LUA, a wrk script that POSTs the file BODY
# (absolute path) as application/json.
wrk_post_lua() {
    cat > "$2" <<LUA
local f = assert(io.open("$1", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
wrk.headers["Content-Type"] = "application/json"
f:close()
LUA
}
