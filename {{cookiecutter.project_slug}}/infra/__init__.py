"""The AWS CDK app: stateful resources in one stack, the saga and its functions in another."""
