-- wrk script for scripts/http_bench.sh: prints the 99th-percentile latency
-- as "p99_us: N" when the run ends.
--
-- Why not wrk's own "99%" line: after a run wrk corrects the latency
-- histogram for coordinated omission, adding samples at latencies below
-- the recorded minimum, but its percentiles scan the histogram from that
-- minimum up. When those added samples pass 1% of the total (pipelined
-- loads, where each connection completes many requests per recorded
-- latency), every percentile prints as 0.00us. Here the total count comes
-- from the mean (mean = sum / count), so the samples below the minimum are
-- counted too.
function done(summary, latency, requests)
    local n = #latency
    local scanned, weighted = 0, 0
    for i = 1, n do
        local value, count = latency(i)
        scanned = scanned + count
        weighted = weighted + value * count
    end
    if n == 0 or latency.mean <= 0 then
        io.write("p99_us: 0\n")
        return
    end
    local total = weighted / latency.mean
    local below_min = math.max(0, total - scanned)
    -- wrk's rank for a percentile: round(p / 100 * count + 0.5).
    local rank = math.floor(0.99 * total + 1)
    local seen = below_min
    for i = 1, n do
        local value, count = latency(i)
        seen = seen + count
        if seen >= rank then
            io.write(string.format("p99_us: %d\n", value))
            return
        end
    end
    io.write(string.format("p99_us: %d\n", latency.max))
end
