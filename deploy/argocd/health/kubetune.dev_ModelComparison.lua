-- Argo CD health of a kubetune ModelComparison: Healthy once a verdict is recorded.
local hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local s = obj.status
if s.phase == "Succeeded" then
  hs.status = "Healthy"
  local verdict = "no verdict"
  if s.results ~= nil and s.results.verdict ~= nil then verdict = "verdict: " .. s.results.verdict end
  hs.message = verdict
elseif s.phase == "Failed" then
  hs.status = "Degraded"
  hs.message = s.message or "failed"
else
  hs.status = "Progressing"
  hs.message = s.message or s.phase
end
return hs
