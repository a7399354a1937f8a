export async function main(args: string[]): Promise<number> {
  console.error(`axon: not implemented yet: ${args.join(' ')}`);
  return 2;
}
