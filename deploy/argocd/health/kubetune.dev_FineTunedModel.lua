-- Argo CD health of a kubetune FineTunedModel: Healthy when every ready vLLM pod serves the adapter.
local hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local s = obj.status
local message = s.message or s.phase
if s.loaded ~= nil then message = s.phase .. " on " .. s.loaded .. " pods: " .. message end
if s.phase == "Serving" or s.phase == "Ready" then
  hs.status = "Healthy"
elseif s.phase == "Degraded" or s.phase == "Failed" then
  hs.status = "Degraded"
else
  hs.status = "Progressing"
end
hs.message = message
return hs
