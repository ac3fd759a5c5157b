import input from '@inquirer/input';
import password from '@inquirer/password';

/** Asks on the terminal without echoing (masked with *), for passwords. */
export async function hiddenPrompt(question: string): Promise<string> {
  return password({ message: question.replace(/:\s*$/, ''), mask: '*' });
}

/** Asks on the terminal with echo, for usernames. */
export async function text(question: string): Promise<string> {
  return input({ message: question.replace(/:\s*$/, '') });
}
