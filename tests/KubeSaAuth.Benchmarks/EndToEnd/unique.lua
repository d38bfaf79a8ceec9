-- Copyright (c) KubeSaAuth contributors.
-- Licensed under the MIT License. See LICENSE in the repository root.
-- Cycles through pre-minted tokens: thread i of n takes every n-th line of the file, so no two threads
-- send the same token. KubeSaAuth caches a token on its second successful validation, so as long as a
-- run sends each token at most twice every request is a full validation; the driver checks that from
-- the request count.
-- wrk ... -s unique.lua URL -- TOKEN_FILE THREADS
local next_id = 0
function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local threads = tonumber(args[2])
  tokens = {}
  local line_number = 0
  for line in io.lines(args[1]) do
    if line_number % threads == id then
      tokens[#tokens + 1] = { Authorization = "Bearer " .. line }
    end
    line_number = line_number + 1
  end
  index = 0
end

function request()
  index = index + 1
  if index > #tokens then
    index = 1
  end
  return wrk.format(nil, nil, tokens[index])
end
