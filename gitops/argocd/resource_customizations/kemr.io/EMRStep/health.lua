-- Argo CD health of a kemr.io EMRStep (docs/gitops.md). Lua 5.1 as Argo CD's gopher-lua runs it:
-- only the base and table libraries, so no string.* or math.* here.
local hs = {}

-- "STATE (CODE): message", the way `kubectl emr describe-step` shows a state change reason.
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

-- "CODE: message (log: uri)" from EMR's FailureDetails.
local function failure(status)
  local details = status.failureDetails
  if details == nil then
    return summary(status)
  end
  local text = details.reason or "FAILED"
  if details.message ~= nil and details.message ~= "" then
    text = text .. ": " .. details.message
  end
  if details.logFile ~= nil then
    text = text .. " (log: " .. details.logFile .. ")"
  end
  return text
end

local status = obj.status
if status == nil or status.state == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the kemr operator to report the step's state"
  return hs
end

local generation = obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the kemr operator to act on generation " .. tostring(generation)
  return hs
end

local state = status.state
if state == "PENDING" or state == "RUNNING" or state == "CANCEL_PENDING" or state == "INTERRUPTED" then
  hs.status = "Progressing"
  hs.message = summary(status)
elseif state == "COMPLETED" then
  hs.status = "Healthy"
  hs.message = summary(status)
elseif state == "FAILED" then
  hs.status = "Degraded"
  hs.message = failure(status)
elseif state == "CANCELLED" then
  -- Cancelled on purpose (spec.cancel): stopped, not broken. Cancelled because another step failed or the
  -- cluster went away: the work did not happen, which needs attention.
  local reason = status.stateChangeReason
  if reason ~= nil and reason.code == "USER_REQUEST" then
    hs.status = "Suspended"
  else
    hs.status = "Degraded"
  end
  hs.message = summary(status)
else
  hs.status = "Unknown"
  hs.message = "Unknown EMRStep state " .. tostring(state)
end
return hs
