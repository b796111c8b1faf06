-- wrk script for scripts/http_bench.sh: each write carries DEPTH copies of
-- the request (TechEmpower's plaintext setting pipelines 16).
-- Usage: wrk -s scripts/wrk/pipeline.lua URL -- DEPTH
local batch

function init(args)
    local depth = tonumber(args[1] or "16")
    batch = string.rep(wrk.format("GET", wrk.path), depth)
end

function request()
    return batch
end
