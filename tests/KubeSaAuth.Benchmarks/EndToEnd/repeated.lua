-- Copyright (c) KubeSaAuth contributors.
-- Licensed under the MIT License. See LICENSE in the repository root.
-- One token on every request, as a Pod sends its projected token for most of an hour.
-- wrk ... -s repeated.lua URL -- TOKEN_FILE   (first line of the file)
function init(args)
  local f = assert(io.open(args[1], "r"))
  local token = f:read("*l")
  f:close()
  wrk.headers["Authorization"] = "Bearer " .. token
end
