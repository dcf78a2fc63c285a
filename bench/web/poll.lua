-- bench/web: an API client that polls, as a desk page without server-sent
-- events would: each connection asks again POLL_MS after the answer.
local ms = tonumber(os.getenv("POLL_MS") or "250")
function delay()
  return ms
end
