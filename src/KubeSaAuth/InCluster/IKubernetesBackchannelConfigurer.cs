// Copyright (c) KubeSaAuth contributors.
// Licensed under the MIT License. See LICENSE in the repository root.

namespace KubeSaAuth.InCluster;

/// <summary>Lets in-cluster mode fill addresses and backchannel settings before the key source is built (called once per scheme, on first use).</summary>
internal interface IKubernetesBackchannelConfigurer
{
    void PostConfigure(string name, KubernetesServiceAccountOptions options);
}
