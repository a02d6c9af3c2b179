-- Argo CD health of a kemr.io EMRCluster (docs/gitops.md). Lua 5.1 as Argo CD's gopher-lua runs it:
-- only the base and table libraries, so no string.* or math.* here.
local hs = {}

local function condition(status, type_)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == type_ then
      return c
    end
  end
  return nil
end

-- "STATE (CODE): message", the way `kubectl emr describe` shows a state change reason.
local function summary(status)
  local text = status.state
  local reason = status.stateChangeReason
  if reason ~= nil then
    if reason.code ~= nil then
      text = text .. " (" .. reason.code .. ")"
    end
    if reason.message ~= nil and reason.message ~= "" then
      text = text .. ": " .. reason.message
    end
  end
  return text
end

-- A cluster that ended for one of these reasons did what it was asked: it is Healthy, not Degraded.
local NORMAL_ENDS = { ALL_STEPS_COMPLETED = true, USER_REQUEST = true, IDLE_TIMEOUT = true }

local status = obj.status
if status == nil or status.state == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the kemr operator to report the cluster's state"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the kemr operator to act on generation " .. tostring(generation)
  return hs
end

-- Stalled needs a human: its message says why. A TERMINATED cluster is also Stalled when it ended abnormally
-- (MAX_LIFETIME); the TERMINATED branch below says so with the reason code.
local stalled = condition(status, "Stalled")
if stalled ~= nil and stalled.status == "True" and status.state ~= "TERMINATED" then
  hs.status = "Degraded"
  hs.message = stalled.message
  return hs
end

local state = status.state
if state == "STARTING" or state == "BOOTSTRAPPING" or state == "TERMINATING" then
  hs.status = "Progressing"
  hs.message = summary(status)
elseif state == "WAITING" or state == "RUNNING" then
  -- Ready to take steps. A configuration change still rolling the pods is Progressing, so a sync waits for it.
  local progressing = condition(status, "Progressing")
  if progressing ~= nil and progressing.status == "True" then
    hs.status = "Progressing"
    hs.message = progressing.message
  else
    hs.status = "Healthy"
    hs.message = summary(status)
    -- Spot task nodes come and go while the cluster keeps serving: said in the message, not Degraded.
    local degraded = condition(status, "Degraded")
    if degraded ~= nil and degraded.status == "True" then
      hs.message = hs.message .. "; " .. degraded.message
    end
  end
elseif state == "TERMINATED" then
  local reason = status.stateChangeReason
  if reason ~= nil and NORMAL_ENDS[reason.code] then
    hs.status = "Healthy"
  else
    hs.status = "Degraded"
  end
  hs.message = summary(status)
elseif state == "TERMINATED_WITH_ERRORS" then
  hs.status = "Degraded"
  hs.message = summary(status)
else
  hs.status = "Unknown"
  hs.message = "Unknown EMRCluster state " .. tostring(state)
end
return hs
