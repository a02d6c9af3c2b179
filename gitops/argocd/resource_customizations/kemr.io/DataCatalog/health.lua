-- Argo CD health of a kemr.io DataCatalog (docs/gitops.md, docs/hive.md). Lua 5.1 as Argo CD's gopher-lua
-- runs it: only the base and table libraries.
local hs = {}

local function condition(status, type)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

-- "STATE: the Ready condition's message"
local function summary(status)
  local ready = condition(status, "Ready")
  if ready ~= nil and ready.message ~= nil and ready.message ~= "" then
    return status.state .. ": " .. ready.message
  end
  return status.state
end

local status = obj.status
if status == nil or status.state == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the kemr operator to report the catalog's state"
  return hs
end
if status.observedGeneration == nil or status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the kemr operator to act on generation " .. obj.metadata.generation
  return hs
end
local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end
if status.state == "ACTIVE" then
  hs.status = "Healthy"
elseif status.state == "DEGRADED" then
  hs.status = "Degraded"
elseif status.state == "CREATING" or status.state == "DELETING" then
  hs.status = "Progressing"
else
  hs.status = "Unknown"
  hs.message = "Unknown DataCatalog state " .. status.state
  return hs
end
hs.message = summary(status)
return hs
