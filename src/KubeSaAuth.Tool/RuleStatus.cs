// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.Tool;

/// <summary>How one rule judged the token.</summary>
internal enum RuleStatus
{
    Pass,
    Fail,
    Skipped,
    NotChecked,
}
