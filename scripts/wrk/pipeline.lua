-- wrk script for scripts/http_bench.sh: each write carries DEPTH copies of
-- the request (TechEmpower's plaintext setting pipelines 16), and the run
-- ends with p99.lua's "p99_us:" line.
-- Usage: wrk -s scripts/wrk/pipeline.lua URL -- DEPTH
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "p99.lua")

local batch

function init(args)
    local depth = tonumber(args[1] or "16")
    batch = string.rep(wrk.format("GET", wrk.path), depth)
end

function request()
    return batch
end
