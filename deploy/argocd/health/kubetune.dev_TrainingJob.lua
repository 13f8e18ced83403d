-- Argo CD health of a kubetune TrainingJob: Healthy once the adapter is trained and registered.
local hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local s = obj.status
local message = s.message or s.phase
if s.observedGeneration ~= nil and obj.metadata.generation ~= nil and s.observedGeneration < obj.metadata.generation then
  return {status = "Progressing", message = "the operator has not seen the latest spec yet"}
end
if s.phase == "Succeeded" then
  hs.status = "Healthy"
elseif s.phase == "Failed" then
  hs.status = "Degraded"
  if s.reason ~= nil then message = s.reason .. ": " .. message end
elseif s.phase == "Suspended" then
  hs.status = "Suspended"
else
  hs.status = "Progressing"
  if s.progress ~= nil and s.progress.percent ~= nil then
    message = s.phase .. " " .. string.format("%.0f", s.progress.percent) .. "%: " .. message
  end
end
hs.message = message
return hs
